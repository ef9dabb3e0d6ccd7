// One shape for holding and holder rows, whatever spelling of the 13F field names the API uses.

const pick = (obj, ...keys) => {
  for (const key of keys) {
    const value = key.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj)
    if (value !== undefined && value !== null && value !== '') return value
  }
  return null
}

export function normalizeHolding(h) {
  return {
    cusip: pick(h, 'cusip', 'security.cusip'),
    issuer: pick(h, 'issuer_name', 'name_of_issuer', 'issuer', 'security.name', 'security_name', 'name'),
    titleOfClass: pick(h, 'title_of_class', 'security.title_of_class', 'class'),
    value: Number(pick(h, 'value', 'value_usd', 'market_value') ?? 0),
    shares: pick(h, 'shares', 'ssh_prnamt', 'amount'),
    shareType: pick(h, 'sh_prn_type'),
    putCall: pick(h, 'put_call'),
  }
}

export function normalizeHolder(h) {
  return {
    cik: pick(h, 'cik', 'filer.cik', 'filer_cik'),
    name: pick(h, 'name', 'filer.name', 'filer_name'),
    period: pick(h, 'period', 'period_of_report', 'filing.period_of_report', 'report_period'),
    value: Number(pick(h, 'value', 'value_usd', 'market_value') ?? 0),
    shares: pick(h, 'shares', 'ssh_prnamt', 'amount'),
    putCall: pick(h, 'put_call'),
  }
}

export function normalizeFiler(f) {
  return {
    cik: pick(f, 'cik'),
    name: pick(f, 'name', 'company_name', 'filer_name'),
    city: pick(f, 'city', 'address.city'),
    state: pick(f, 'state', 'state_or_country', 'address.state'),
    latestPeriod: pick(f, 'latest_period'),
    filingsCount: pick(f, 'filings_count'),
  }
}

/** A filing summary (`latest_filing` of a filer, `filing` of a holdings page). */
export function normalizeFiling(f) {
  if (!f) return null
  return {
    period: pick(f, 'period_of_report', 'period', 'report_period'),
    filedAt: pick(f, 'filed_on', 'filed_at', 'filing_date', 'date_filed'),
    accession: pick(f, 'accession_number', 'accession'),
    formType: pick(f, 'form_type'),
    totalValue: pick(f, 'total_value', 'table_value_total', 'value_total'),
    entries: pick(f, 'holdings_count', 'entry_count', 'table_entry_total', 'count'),
  }
}

/** GET /api/filers/{cik}/ → {filer, latest, top, periods} with tolerant field names. */
export function normalizeFilerDetail(data) {
  const filer = normalizeFiler(data?.filer ?? data ?? {})
  const latest = data?.latest_filing ?? data?.latest ?? data?.filing ?? null
  const top = data?.top_holdings ?? data?.holdings ?? latest?.top_holdings ?? []
  return {
    filer,
    latest: normalizeFiling(latest),
    top: top.map(normalizeHolding),
    periods: Array.isArray(data?.periods) ? data.periods : [],
  }
}

/** Ten largest positions by value, for the bar chart. */
export function largestPositions(rows, n = 10) {
  return [...rows].sort((a, b) => b.value - a.value).slice(0, n)
}
