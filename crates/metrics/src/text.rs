//! The two text formats a scraper may ask for, and the conversion between them.
//!
//! prometheus-client writes OpenMetrics 1.0. A client that asks for the Prometheus text format
//! 0.0.4 (older Prometheus servers, `promtool check metrics`, many other scrapers) reads that as
//! 0.0.4 and gets it subtly wrong: OpenMetrics names a counter family `x` and its sample `x_total`,
//! so every counter seems to have no help text; `# UNIT`, `# EOF` and the `info` type do not exist
//! in 0.0.4. [`Format::negotiate`] reads the `Accept` header, and [`to_text_004`] rewrites the
//! metadata lines (the samples are the same in both formats).

/// A text exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text (`application/openmetrics-text; version=1.0.0`).
    OpenMetrics,
    /// The Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    Text004,
}

impl Format {
    /// The format to answer an `Accept` header with: the one of highest quality the client
    /// accepts; 0.0.4 for no header, `*/*` or anything unknown (what every scraper reads).
    pub fn negotiate(accept: &str) -> Format {
        let mut best: Option<(f32, Format)> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let kind = parts.next().unwrap_or("").to_ascii_lowercase();
            let mut quality = 1.0_f32;
            let mut version = None;
            for parameter in parts {
                if let Some((name, value)) = parameter.split_once('=') {
                    match name.trim().to_ascii_lowercase().as_str() {
                        "q" => quality = value.trim().parse().unwrap_or(0.0),
                        "version" => version = Some(value.trim().to_owned()),
                        _ => {}
                    }
                }
            }
            let format = match kind.as_str() {
                "application/openmetrics-text"
                    if version.as_deref().is_none_or(|v| v.starts_with("1.")) =>
                {
                    Format::OpenMetrics
                }
                "text/plain" => Format::Text004,
                _ => continue,
            };
            if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, format));
            }
        }
        best.map_or(Format::Text004, |(_, format)| format)
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text004 => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// Rewrites OpenMetrics text as the 0.0.4 text format: counters' `HELP` and `TYPE` name the
/// `_total` series, `info` becomes a `gauge` named `_info`, `unknown` becomes `untyped`, and the
/// `UNIT` and `EOF` lines go.
pub fn to_text_004(openmetrics: &str) -> String {
    // A family's TYPE line follows its HELP line: find every family's type first.
    let types: std::collections::HashMap<&str, &str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .collect();
    let renamed = |name: &str| -> String {
        match types.get(name).copied() {
            Some("counter") => format!("{name}_total"),
            Some("info") => format!("{name}_info"),
            _ => name.to_owned(),
        }
    };
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.push_str(&format!("# HELP {} {help}\n", renamed(name)));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let kind = match kind {
                "info" => "gauge",
                "unknown" => "untyped",
                other => other,
            };
            out.push_str(&format!("# TYPE {} {kind}\n", renamed(name)));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrapers_get_what_they_ask_for() {
        let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,\
                          application/openmetrics-text;version=0.0.1;q=0.4,\
                          text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(Format::negotiate(prometheus), Format::OpenMetrics);
        assert_eq!(
            Format::negotiate("text/plain;version=0.0.4;q=1,*/*;q=0.1"),
            Format::Text004
        );
        assert_eq!(Format::negotiate(""), Format::Text004);
        assert_eq!(Format::negotiate("*/*"), Format::Text004);
        assert_eq!(
            Format::negotiate("application/openmetrics-text;q=0.2,text/plain;q=0.9"),
            Format::Text004
        );
        assert_eq!(
            Format::negotiate("application/openmetrics-text"),
            Format::OpenMetrics
        );
    }

    #[test]
    fn counters_and_info_are_renamed_and_openmetrics_lines_dropped() {
        let openmetrics = "# HELP a_events Events.\n# TYPE a_events counter\na_events_total 3\n\
                           # HELP a_build Build.\n# TYPE a_build info\na_build_info{v=\"1\"} 1\n\
                           # HELP a_size Size.\n# TYPE a_size gauge\n# UNIT a_size bytes\na_size 7\n# EOF\n";
        let text = to_text_004(openmetrics);
        assert_eq!(
            text,
            "# HELP a_events_total Events.\n# TYPE a_events_total counter\na_events_total 3\n\
             # HELP a_build_info Build.\n# TYPE a_build_info gauge\na_build_info{v=\"1\"} 1\n\
             # HELP a_size Size.\n# TYPE a_size gauge\na_size 7\n"
        );
    }
}
