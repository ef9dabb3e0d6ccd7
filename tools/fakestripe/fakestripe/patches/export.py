"""Serialisation in Stripe's current shape, with Stripe's ``expand[]`` rules.

Reproduces:

* ``expand[]`` of nested paths (``latest_invoice.confirmation_secret``, ``data.product``,
  ``items.data.price.product``): each level is exported by its own object, so fields that
  Stripe only *includes on request* (``invoice.confirmation_secret``, ``invoice.payments``,
  ``customer.subscriptions``) appear exactly when expanded. localstripe expanded only ids
  and answered 400 for those includable fields.
* ``400 "This property cannot be expanded (x)."`` for unknown paths.
* ``404 {"code": "resource_missing", "message": "No such customer: 'cus_x'"}``.
* Lists newest first (Stripe's order), ``Received unknown parameter: x`` for unknown filters.

Each resource patch declares ``Cls._fs_shape(self, dict) -> dict`` (turns localstripe's
old-shape dict into the current shape) and ``Cls._fs_includable = {field: fn(self, subpaths)}``.
"""

from __future__ import annotations

import time

from localstripe import resources as R

from ..errors import invalid_request, resource_missing

MAX_EXPAND_DEPTH = 4


def _all_classes(cls=R.StripeObject):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_classes(sub)


def class_for_id(id_: str):
    """The resource class of an id: by prefix (longest first), else by a store lookup."""
    if not isinstance(id_, str) or not id_:
        return None
    prefixed = [c for c in _all_classes() if "_id_prefix" in c.__dict__]
    for cls in sorted(prefixed, key=lambda c: -len(c._id_prefix)):
        if id_.startswith(cls._id_prefix):
            return cls
    suffix = ":" + id_
    for key, value in R.store.items():
        if key.endswith(suffix) and isinstance(value, R.StripeObject):
            return type(value)
    return None


def resolve(id_: str, param: str = "expand"):
    cls = class_for_id(id_)
    if cls is None:
        raise invalid_request(
            f"No such object: '{id_}'", param=param, code="resource_missing", status=404
        )
    return cls._api_retrieve(id_)


def _check_expand(expand):
    if expand is None:
        return []
    if isinstance(expand, str):
        expand = [expand]
    if not isinstance(expand, list) or not all(isinstance(e, str) for e in expand):
        raise invalid_request("Invalid array", param="expand")
    if any(len(path.split(".")) > MAX_EXPAND_DEPTH for path in expand):
        raise invalid_request("You cannot expand more than 4 levels of a property", param="expand")
    return expand


def _plain(value):
    if isinstance(value, R.StripeObject) or hasattr(value, "_export"):
        return value._export()
    if isinstance(value, list) and value and isinstance(value[0], R.StripeObject):
        return [item._export() for item in value]
    if isinstance(value, dict):
        return value.copy()
    return value


def base_dict(self) -> dict:
    """What localstripe exports: public attributes, then public properties."""
    skip = getattr(type(self), "_fs_skip", ())
    obj = {
        key: _plain(value)
        for key, value in vars(self).items()
        if not key.startswith("_") and key not in skip
    }
    for prop in dir(self):
        if not prop.startswith("_") and prop not in obj and prop not in skip:
            value = getattr(self, prop)
            if callable(value) and not isinstance(value, R.StripeObject):
                continue
            obj[prop] = _plain(value)
    return obj


def page(li: R.List) -> list:
    li._compute_starting_pos()
    return li._list[li._starting_pos : li._starting_pos + li._limit]


def _expand_value(owner, key, value, rest):
    if value is None:
        return None
    if isinstance(value, str):
        return resolve(value)._export(expand=rest)
    if isinstance(value, list):
        return [_expand_value(owner, key, v, rest) for v in value]
    if isinstance(value, dict):
        attr = getattr(owner, key, None)
        if isinstance(attr, R.StripeObject):
            return attr._export(expand=rest)
        if rest and isinstance(value.get("id"), str):
            return resolve(value["id"])._export(expand=rest)
        return value
    return value


def apply_expand(self, obj: dict, paths: list[str]) -> dict:
    groups: dict[str, list[str]] = {}
    for path in paths:
        head, _, rest = path.partition(".")
        groups.setdefault(head, [])
        if rest:
            groups[head].append(rest)
    includable = getattr(type(self), "_fs_includable", {})
    for head, sub_paths in groups.items():
        if isinstance(self, R.List) and head == "data":
            obj["data"] = [item._export(expand=sub_paths) for item in page(self)]
        elif head in includable:
            obj[head] = includable[head](self, sub_paths)
        elif head in obj:
            obj[head] = _expand_value(self, head, obj[head], sub_paths)
        else:
            raise invalid_request(f"This property cannot be expanded ({head}).", param="expand")
    return obj


def export(self, expand=None):
    expand = _check_expand(expand)
    obj = base_dict(self)
    shape = getattr(type(self), "_fs_shape", None)
    if shape is not None:
        obj = shape(self, obj)
    if expand:
        apply_expand(self, obj, expand)
    return obj


def api_retrieve(cls, id):
    obj = R.store.get(cls.object + ":" + str(id))
    if obj is None:
        raise resource_missing(cls.object, id)
    return obj


def api_list_all(cls, url, limit=None, starting_after=None, **kwargs):
    unknown_parameter(kwargs)
    li = R.List(url, limit=limit, starting_after=starting_after)
    prefix = cls.object + ":"
    items = [value for key, value in R.store.items() if key.startswith(prefix)]
    items.sort(key=lambda o: (getattr(o, "created", 0), getattr(o, "_fs_seq", 0)), reverse=True)
    li._list = items
    return li


def unknown_parameter(kwargs: dict) -> None:
    if kwargs:
        raise invalid_request(
            f"Received unknown parameter: {next(iter(kwargs))}", param=next(iter(kwargs))
        )


def _list_shape(self, obj):
    obj.pop("total_count", None)
    return obj


_orig_init = R.StripeObject.__init__


def _init(self, id=None):
    _orig_init(self, id)
    if not isinstance(self, R.List):
        self._fs_seq = time.time_ns()  # tie-break for "newest first" within one second


def apply() -> None:
    R.StripeObject.__init__ = _init
    R.StripeObject._export = export
    R.StripeObject._api_retrieve = classmethod(api_retrieve)
    R.StripeObject._api_list_all = classmethod(api_list_all)
    R.StripeObject._get_class_for_id = classmethod(lambda cls, id_: class_for_id(id_))
    R.List._fs_shape = _list_shape
