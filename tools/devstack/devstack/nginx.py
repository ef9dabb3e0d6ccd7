"""The NGINX config of production (nginx/templates), rendered and checked without Docker.

python -m devstack.nginx test            `make lint-deploy`: nginx -t on the production rendering
python -m devstack.nginx render DIR [--stack]   the rendered config, to read (with the
                                                stand-ins' routes when --stack)
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from devstack.paths import NGINX_DIR, ROOT

SERVER_TEMPLATE = NGINX_DIR / "templates" / "default.conf.template"
MAIN_TEMPLATE = NGINX_DIR / "stack" / "nginx.conf.template"
DEVTOOLS_LOCATIONS = NGINX_DIR / "stack" / "devtools.conf"

#: The variables of nginx/templates/default.conf.template (nginx/README.md).
TEMPLATE_VARIABLES = (
    "LISTEN_PORT",
    "SERVER_NAME",
    "BACKEND_UPSTREAM",
    "SPA_ROOT",
    "STATIC_ROOT",
    "FORWARDED_PROTO",
    "CSP_EXTRA_SOURCES",
    "EXTRA_CONF_DIR",
    "ACCESS_LOG",
)
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def render(text: str, values: Mapping[str, str]) -> str:
    """``${NAME}`` replaced by ``values[NAME]``, like the nginx image's envsubst step.

    Only ``${NAME}`` with braces is a template variable (nginx's own ``$uri``... are left
    alone). A ``${NAME}`` without a value is an error here; the image would leave it in and
    NGINX would refuse the file.
    """
    missing = sorted({m.group(1) for m in _PLACEHOLDER.finditer(text)} - set(values))
    if missing:
        raise KeyError(f"no value for template variable(s): {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def production_values(**overrides: str) -> dict[str, str]:
    """The values nginx/Dockerfile sets, i.e. what production renders."""
    values = {
        "LISTEN_PORT": "80",
        "SERVER_NAME": "_",
        "BACKEND_UPSTREAM": "backend:8000",
        "SPA_ROOT": "/usr/share/nginx/html",
        "STATIC_ROOT": "/srv/static",
        "FORWARDED_PROTO": "$scheme",
        "CSP_EXTRA_SOURCES": "",
        "EXTRA_CONF_DIR": "/etc/nginx/opensec.d",
        "ACCESS_LOG": "/dev/stdout",
    }
    values.update(overrides)
    return values


def write_nginx_config(
    run_dir: Path, values: Mapping[str, str], *, devtools: bool, log_dir: Path | None = None
) -> Path:
    """Render the main file and the server config under ``run_dir``; the main file's path.

    ``run_dir`` gets nginx.conf, conf.d/default.conf, extra/ (EXTRA_CONF_DIR: the stand-ins'
    routes when ``devtools``) and tmp/; the access and error logs go to ``log_dir`` (default
    ``run_dir``/logs). EXTRA_CONF_DIR and ACCESS_LOG of ``values`` are replaced accordingly.
    """
    run_dir = Path(run_dir)
    for sub in ("conf.d", "extra", "tmp"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    logs = run_dir / "logs"
    if log_dir is None:
        logs.mkdir(exist_ok=True)
    elif not logs.exists():
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        logs.symlink_to(Path(log_dir).resolve(), target_is_directory=True)
    values = {
        **values,
        "EXTRA_CONF_DIR": str(run_dir / "extra"),
        "ACCESS_LOG": str(logs / "nginx-access.log"),
    }
    server = render(SERVER_TEMPLATE.read_text(), values)
    (run_dir / "conf.d" / "default.conf").write_text(server)
    if devtools:
        shutil.copyfile(DEVTOOLS_LOCATIONS, run_dir / "extra" / "devtools.conf")
    main = render(MAIN_TEMPLATE.read_text(), {"NGINX_RUN_DIR": str(run_dir)})
    conf = run_dir / "nginx.conf"
    conf.write_text(main)
    # As root, NGINX's workers run as `nobody`: they must reach the temp and static folders.
    for path in (run_dir, *(p for p in run_dir.rglob("*") if p.is_dir())):
        path.chmod(0o755)
    return conf


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found:
        raise RuntimeError("nginx is not installed: scripts/apt-ensure nginx (make stack does).")
    return found


def nginx_command(conf: Path, *, test: bool = False) -> list[str]:
    run_dir = conf.parent
    globals_ = (
        f"pid {run_dir / 'nginx.pid'};" if test else f"daemon off; pid {run_dir / 'nginx.pid'};"
    )
    command = [nginx_binary(), "-p", str(run_dir), "-e", str(run_dir / "logs" / "nginx-error.log")]
    command += ["-c", str(conf), "-g", globals_]
    return [*command, "-t", "-q"] if test else command


def nginx_test(conf: Path) -> subprocess.CompletedProcess:
    """``nginx -t`` on a rendered config (stdout+stderr in the result)."""
    return subprocess.run(
        nginx_command(conf, test=True), capture_output=True, text=True, check=False
    )


def nginx_test_production() -> int:
    """`make lint-deploy`: the production rendering of the template passes ``nginx -t``.

    The upstream is an address (``backend`` resolves only inside compose) and the folders
    are temp ones; every directive, map and header is the production one.
    """
    with tempfile.TemporaryDirectory(prefix="opensec-nginx-t-") as tmp:
        run_dir = Path(tmp)
        (run_dir / "spa").mkdir()
        (run_dir / "static").mkdir()
        values = production_values(
            BACKEND_UPSTREAM="127.0.0.1:8000",
            SPA_ROOT=str(run_dir / "spa"),
            STATIC_ROOT=str(run_dir / "static"),
            LISTEN_PORT="127.0.0.1:8080",
        )
        conf = write_nginx_config(run_dir, values, devtools=False)
        result = nginx_test(conf)
        output = (result.stdout + result.stderr).strip()
        if result.returncode != 0:
            print(f"nginx -t: the production config is refused:\n{output}", file=sys.stderr)
            return 1
        if output:
            print(output)
        print(f"nginx -t: {SERVER_TEMPLATE.relative_to(ROOT)} (production values) is valid")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("test", help="nginx -t on the production rendering of the template")
    render_parser = sub.add_parser("render", help="write the rendered NGINX config into DIR")
    render_parser.add_argument("dir")
    render_parser.add_argument("--stack", action="store_true", help="with the stand-ins' routes")
    args = parser.parse_args(argv)
    if args.command == "test":
        return nginx_test_production()
    conf = write_nginx_config(Path(args.dir), production_values(), devtools=args.stack)
    print(conf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
