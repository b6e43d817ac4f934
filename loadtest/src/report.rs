//! The run report, three ways: a plain-text table for the terminal, pretty JSON for the
//! record, and an SVG chart of latency over time.
//!
//! Everything here reads a finished [`Report`] and nothing else: no clock, no network,
//! so the same report always renders the same text. The table and the chart are built
//! through `Display` wrappers ([`TableView`], [`ChartView`]), which lets every writer
//! propagate `fmt::Result` with `?` instead of ignoring the (impossible) error of
//! writing into a `String`.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt::{self, Display, Formatter};
use std::fs;
use std::io;
use std::path::Path;

use crate::summary::{Comparison, PhaseSummary, Report, TimelinePoint, Verdict};

/// Prints the report for a terminal: header, one row per phase, codes, comparison and
/// verdict. Plain text, no colour codes, so it can be pasted into a README as is.
pub fn render_table(report: &Report) -> String {
    TableView(report).to_string()
}

/// Writes the report as pretty JSON, creating the parent directories if missing.
pub fn write_json(report: &Report, path: &Path) -> io::Result<()> {
    create_parent_directories(path)?;
    let mut text = serde_json::to_string_pretty(report).map_err(io::Error::other)?;
    text.push('\n');
    fs::write(path, text)
}

/// Draws latency over time (p99 and p50 per second, one colour per phase) as a
/// self-contained SVG document.
pub fn render_chart_svg(report: &Report) -> String {
    ChartView(report).to_string()
}

/// Writes the chart of [`render_chart_svg`], creating the parent directories if missing.
pub fn write_chart(report: &Report, path: &Path) -> io::Result<()> {
    create_parent_directories(path)?;
    fs::write(path, render_chart_svg(report))
}

fn create_parent_directories(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => fs::create_dir_all(parent),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------
// Table
// ---------------------------------------------------------------------------------------

/// Width of each numeric column of the phase table.
const NUMBER_COLUMN_WIDTH: usize = 10;
/// Width of each latency column of the phase table ("1.24ms", "850µs").
const LATENCY_COLUMN_WIDTH: usize = 8;

/// The report as a terminal table.
pub struct TableView<'a>(pub &'a Report);

impl Display for TableView<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let report = self.0;
        writeln!(
            f,
            "scenario {}  loop {}  machine {}",
            report.scenario,
            report.loop_mode,
            describe_machine(&report.machine)
        )?;
        write_phase_rows(f, &report.phases)?;
        write_codes(f, &report.phases)?;
        if let Some(comparison) = &report.comparison {
            write_comparison(f, comparison)?;
        }
        if let Some(verdict) = &report.verdict {
            write_verdict(f, verdict)?;
        }
        Ok(())
    }
}

/// "2 cores, 2026-11-23" from `{"cores": 2, "date": "2026-11-23"}`; other shapes are
/// shown as compact JSON rather than dropped.
fn describe_machine(machine: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    if let Some(cores) = machine.get("cores").and_then(serde_json::Value::as_u64) {
        parts.push(format!("{cores} cores"));
    }
    if let Some(date) = machine.get("date").and_then(serde_json::Value::as_str) {
        parts.push(date.to_string());
    }
    match (parts.is_empty(), machine.is_null()) {
        (false, _) => parts.join(", "),
        (true, true) => "unknown".to_string(),
        (true, false) => machine.to_string(),
    }
}

fn write_phase_rows(f: &mut Formatter<'_>, phases: &[PhaseSummary]) -> fmt::Result {
    if phases.is_empty() {
        return writeln!(f, "(no phases)");
    }
    let name_width = column_width("phase", phases.iter().map(|phase| phase.name.as_str()));
    let target_width = column_width("target", phases.iter().map(|phase| phase.target.as_str()));
    let number = NUMBER_COLUMN_WIDTH;
    let latency = LATENCY_COLUMN_WIDTH;
    writeln!(
        f,
        "{:<name_width$}  {:<target_width$}  {:>number$}  {:>number$}  {:>number$}  \
         {:>latency$}  {:>latency$}  {:>latency$}  {:>latency$}  {:>latency$}",
        "phase", "target", "requests", "seconds", "req/s", "p50", "p90", "p99", "p99.9", "max"
    )?;
    for phase in phases {
        let summary = &phase.latency;
        writeln!(
            f,
            "{:<name_width$}  {:<target_width$}  {:>number$}  {:>number$.1}  {:>number$.0}  \
             {:>latency$}  {:>latency$}  {:>latency$}  {:>latency$}  {:>latency$}",
            phase.name,
            phase.target,
            phase.requests,
            phase.elapsed_seconds,
            phase.throughput_per_second,
            format_latency(summary.p50_us),
            format_latency(summary.p90_us),
            format_latency(summary.p99_us),
            format_latency(summary.p999_us),
            format_latency(summary.max_us),
        )?;
    }
    Ok(())
}

/// The widest of the header and the cells, in characters (format widths count chars).
fn column_width<'a>(header: &str, cells: impl Iterator<Item = &'a str>) -> usize {
    cells
        .map(|cell| cell.chars().count())
        .fold(header.chars().count(), usize::max)
}

fn write_codes(f: &mut Formatter<'_>, phases: &[PhaseSummary]) -> fmt::Result {
    if phases.is_empty() {
        return Ok(());
    }
    writeln!(f)?;
    writeln!(f, "answers by code")?;
    let name_width = column_width("", phases.iter().map(|phase| phase.name.as_str()));
    for phase in phases {
        let codes: Vec<String> = ordered_codes(&phase.codes)
            .into_iter()
            .map(|(code, count)| format!("{code} {count}"))
            .collect();
        let codes = if codes.is_empty() {
            "(none)".to_string()
        } else {
            codes.join("  ")
        };
        writeln!(f, "  {:<name_width$}  {codes}", phase.name)?;
    }
    Ok(())
}

/// "OK" first, then the most frequent codes; ties by name, so the order is stable.
fn ordered_codes(codes: &BTreeMap<String, u64>) -> Vec<(&str, u64)> {
    let mut ordered: Vec<(&str, u64)> = codes
        .iter()
        .map(|(code, count)| (code.as_str(), *count))
        .collect();
    ordered.sort_by_key(|&(code, count)| (code != "OK", Reverse(count), code));
    ordered
}

fn write_comparison(f: &mut Formatter<'_>, comparison: &Comparison) -> fmt::Result {
    writeln!(f)?;
    write!(f, "playcore / ceiling: {:.2}", comparison.ratio_median)?;
    if comparison.ratios.is_empty() {
        return writeln!(f);
    }
    let rounds: Vec<String> = comparison
        .ratios
        .iter()
        .map(|ratio| format!("{ratio:.2}"))
        .collect();
    writeln!(f, " (rounds: {})", rounds.join(", "))
}

fn write_verdict(f: &mut Formatter<'_>, verdict: &Verdict) -> fmt::Result {
    writeln!(f)?;
    for check in &verdict.checks {
        let outcome = if check.passed { "PASS" } else { "FAIL" };
        writeln!(f, "{outcome} {} — {}", check.name, check.detail)?;
    }
    let outcome = if verdict.passed { "PASSED" } else { "FAILED" };
    writeln!(f, "verdict: {outcome}")
}

/// A latency as a person writes it: `850µs`, `1.24ms`, `2.1s` (three significant digits
/// at most, trailing zeros dropped).
pub fn format_latency(latency_us: u64) -> String {
    // From 999.5ms up, three significant digits of milliseconds would print "1000ms".
    const MILLISECONDS_LIMIT_US: u64 = 999_500;
    if latency_us < 1_000 {
        format!("{latency_us}µs")
    } else if latency_us < MILLISECONDS_LIMIT_US {
        format!("{}ms", three_significant_digits(latency_us as f64 / 1e3))
    } else {
        format!("{}s", three_significant_digits(latency_us as f64 / 1e6))
    }
}

/// `value` (at least 1) with three significant digits, trailing zeros dropped.
fn three_significant_digits(value: f64) -> String {
    let decimals = match value {
        value if value < 10.0 => 2,
        value if value < 100.0 => 1,
        _ => 0,
    };
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

// ---------------------------------------------------------------------------------------
// Chart
// ---------------------------------------------------------------------------------------
//
// The SVG is written by hand on purpose: the report needs one line chart, and a plotting
// crate would bring a dependency tree (fonts, rasterisers, image codecs) far larger than
// the harness itself for it.

const CHART_WIDTH: f64 = 900.0;
const CHART_HEIGHT: f64 = 420.0;
const PLOT_LEFT: f64 = 70.0;
const PLOT_RIGHT: f64 = 700.0;
const PLOT_TOP: f64 = 50.0;
const PLOT_BOTTOM: f64 = 360.0;
const LEGEND_LEFT: f64 = 720.0;
/// Vertical distance between legend entries.
const LEGEND_ROW_HEIGHT: f64 = 18.0;
/// Longest phase name the legend shows in full; longer names are cut with "…".
const LEGEND_NAME_CHARS: usize = 22;
/// At most this many labelled ticks on the time axis.
const SECOND_TICKS_MAX: u64 = 10;
/// Tick steps on the time axis, in seconds, smallest first.
const SECOND_STEPS: [u64; 12] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];
/// Phase colours, reused in this order when there are more phases.
const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// The report as an SVG document.
pub struct ChartView<'a>(pub &'a Report);

impl Display for ChartView<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let report = self.0;
        let scale = Scale::of(&report.phases);
        write_chart_frame(f, report)?;
        write_latency_axis(f, &scale)?;
        write_time_axis(f, &scale)?;
        if !scale.has_data {
            write_no_data(f)?;
        }
        for (index, phase) in report.phases.iter().enumerate() {
            let colour = PALETTE[index % PALETTE.len()];
            write_series(f, phase, colour, &scale)?;
        }
        write_legend(f, &report.phases)?;
        writeln!(f, "</svg>")
    }
}

/// Maps seconds and latencies to chart coordinates.
struct Scale {
    /// The time axis runs from 0 to this many seconds.
    seconds_max: u64,
    /// The latency axis runs from 10^low to 10^high milliseconds.
    decade_low: i32,
    decade_high: i32,
    /// Whether any phase has a second with requests in it.
    has_data: bool,
}

impl Scale {
    /// Fits the axes to the data: whole seconds, whole decades of milliseconds.
    fn of(phases: &[PhaseSummary]) -> Scale {
        let points: Vec<&TimelinePoint> = phases.iter().flat_map(plotted_points).collect();
        let seconds_max = points
            .iter()
            .map(|point| u64::from(point.second) + 1)
            .max()
            .unwrap_or(1);
        let latencies = points
            .iter()
            .flat_map(|point| [point.p50_us, point.p99_us])
            .map(clamp_latency);
        let (decade_low, decade_high) = match (latencies.clone().min(), latencies.max()) {
            (Some(lowest_us), Some(highest_us)) => latency_decades(lowest_us, highest_us),
            // No data: show the usual range of a web request, 0.1ms to 1s.
            _ => (-1, 3),
        };
        Scale {
            seconds_max,
            decade_low,
            decade_high,
            has_data: !points.is_empty(),
        }
    }

    fn x(&self, second: f64) -> f64 {
        PLOT_LEFT + second / self.seconds_max as f64 * (PLOT_RIGHT - PLOT_LEFT)
    }

    fn y(&self, latency_us: u64) -> f64 {
        let decade = (clamp_latency(latency_us) as f64).log10() - 3.0;
        self.y_of_decade(decade)
    }

    fn y_of_decade(&self, decade: f64) -> f64 {
        let span = f64::from(self.decade_high - self.decade_low);
        let fraction = (decade - f64::from(self.decade_low)) / span;
        PLOT_BOTTOM - fraction * (PLOT_BOTTOM - PLOT_TOP)
    }
}

/// Seconds with at least one request; a second without any has no latency to show.
fn plotted_points(phase: &PhaseSummary) -> impl Iterator<Item = &TimelinePoint> {
    phase.timeline.iter().filter(|point| point.requests > 0)
}

/// A log scale has no zero: anything under 1µs is drawn at 1µs.
fn clamp_latency(latency_us: u64) -> u64 {
    latency_us.max(1)
}

/// The decades of milliseconds (as powers of ten) enclosing `[lowest_us, highest_us]`,
/// at least one apart. Integer arithmetic, so exact powers of ten land on a gridline.
fn latency_decades(lowest_us: u64, highest_us: u64) -> (i32, i32) {
    const MICROSECONDS_DECADES_PER_MILLISECOND: i32 = 3;
    let low = lowest_us.max(1).ilog10();
    let highest_us = highest_us.max(1);
    let high = match highest_us.ilog10() {
        exponent if 10u64.pow(exponent) == highest_us => exponent,
        exponent => exponent + 1,
    };
    // Both are at most 20: the casts cannot wrap.
    let low = low as i32 - MICROSECONDS_DECADES_PER_MILLISECOND;
    let high = high as i32 - MICROSECONDS_DECADES_PER_MILLISECOND;
    (low, high.max(low + 1))
}

fn write_chart_frame(f: &mut Formatter<'_>, report: &Report) -> fmt::Result {
    writeln!(
        f,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" font-family="sans-serif" font-size="12">"#
    )?;
    writeln!(
        f,
        r##"<rect x="0" y="0" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" fill="#ffffff"/>"##
    )?;
    writeln!(
        f,
        r#"<text x="{:.1}" y="28" text-anchor="middle" font-size="16">Latency over time: {} ({} loop)</text>"#,
        (PLOT_LEFT + PLOT_RIGHT) / 2.0,
        escape_xml(&report.scenario),
        escape_xml(&report.loop_mode)
    )?;
    writeln!(
        f,
        r##"<rect x="{PLOT_LEFT}" y="{PLOT_TOP}" width="{}" height="{}" fill="none" stroke="#888888"/>"##,
        PLOT_RIGHT - PLOT_LEFT,
        PLOT_BOTTOM - PLOT_TOP
    )
}

fn write_latency_axis(f: &mut Formatter<'_>, scale: &Scale) -> fmt::Result {
    for decade in scale.decade_low..=scale.decade_high {
        let y = scale.y_of_decade(f64::from(decade));
        writeln!(
            f,
            r##"<line x1="{PLOT_LEFT}" y1="{y:.1}" x2="{PLOT_RIGHT}" y2="{y:.1}" stroke="#dddddd"/>"##
        )?;
        writeln!(
            f,
            r#"<text x="{:.1}" y="{y:.1}" dy="0.35em" text-anchor="end">{}</text>"#,
            PLOT_LEFT - 8.0,
            decade_label(decade)
        )?;
    }
    writeln!(
        f,
        r#"<text x="20" y="{0:.1}" text-anchor="middle" transform="rotate(-90 20 {0:.1})">latency (ms, log scale)</text>"#,
        (PLOT_TOP + PLOT_BOTTOM) / 2.0
    )
}

/// 10^decade written out: "0.001", "0.1", "1", "1000". Built from digits, so no
/// floating-point noise ("0.30000000000000004") can reach the label.
fn decade_label(decade: i32) -> String {
    let zeros = decade.unsigned_abs() as usize;
    if decade >= 0 {
        format!("1{}", "0".repeat(zeros))
    } else {
        format!("0.{}1", "0".repeat(zeros - 1))
    }
}

fn write_time_axis(f: &mut Formatter<'_>, scale: &Scale) -> fmt::Result {
    let step = second_step(scale.seconds_max);
    for second in (0..=scale.seconds_max).step_by(step) {
        let x = scale.x(second as f64);
        writeln!(
            f,
            r##"<line x1="{x:.1}" y1="{PLOT_TOP}" x2="{x:.1}" y2="{PLOT_BOTTOM}" stroke="#eeeeee"/>"##
        )?;
        writeln!(
            f,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{second}</text>"#,
            PLOT_BOTTOM + 18.0
        )?;
    }
    writeln!(
        f,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">seconds since phase start</text>"#,
        (PLOT_LEFT + PLOT_RIGHT) / 2.0,
        PLOT_BOTTOM + 44.0
    )
}

/// The smallest round step that labels the time axis with at most [`SECOND_TICKS_MAX`]
/// ticks.
fn second_step(seconds_max: u64) -> usize {
    let step = SECOND_STEPS
        .into_iter()
        .find(|step| seconds_max / step <= SECOND_TICKS_MAX)
        .unwrap_or_else(|| seconds_max.div_ceil(SECOND_TICKS_MAX));
    usize::try_from(step).unwrap_or(usize::MAX)
}

fn write_no_data(f: &mut Formatter<'_>) -> fmt::Result {
    writeln!(
        f,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#888888">no data</text>"##,
        (PLOT_LEFT + PLOT_RIGHT) / 2.0,
        (PLOT_TOP + PLOT_BOTTOM) / 2.0
    )
}

/// Two polylines per phase: p99 solid, p50 thinner and dashed. A phase without data
/// still gets both (with no points, which draws nothing), so the document always has
/// two per phase.
fn write_series(
    f: &mut Formatter<'_>,
    phase: &PhaseSummary,
    colour: &str,
    scale: &Scale,
) -> fmt::Result {
    writeln!(
        f,
        r#"<polyline fill="none" stroke="{colour}" stroke-width="2" stroke-linejoin="round" points="{}"/>"#,
        series_points(phase, scale, |point| point.p99_us)
    )?;
    writeln!(
        f,
        r#"<polyline fill="none" stroke="{colour}" stroke-width="1.2" stroke-dasharray="5 3" stroke-linejoin="round" points="{}"/>"#,
        series_points(phase, scale, |point| point.p50_us)
    )
}

/// The `points` attribute of one series. Each second is drawn at its middle; a lone
/// second is drawn as a flat segment across it, since a one-point polyline is invisible.
fn series_points(
    phase: &PhaseSummary,
    scale: &Scale,
    latency_us: fn(&TimelinePoint) -> u64,
) -> String {
    let points: Vec<&TimelinePoint> = plotted_points(phase).collect();
    let coordinates: Vec<(f64, f64)> = match points.as_slice() {
        [only] => {
            let y = scale.y(latency_us(only));
            let start = f64::from(only.second);
            vec![(scale.x(start), y), (scale.x(start + 1.0), y)]
        }
        points => points
            .iter()
            .map(|point| {
                let middle = f64::from(point.second) + 0.5;
                (scale.x(middle), scale.y(latency_us(point)))
            })
            .collect(),
    };
    coordinates
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn write_legend(f: &mut Formatter<'_>, phases: &[PhaseSummary]) -> fmt::Result {
    let rows = phases.iter().enumerate().flat_map(|(index, phase)| {
        let colour = PALETTE[index % PALETTE.len()];
        [
            (phase, colour, "p99", "none"),
            (phase, colour, "p50", "5 3"),
        ]
    });
    for (row, (phase, colour, percentile, dashes)) in rows.enumerate() {
        let y = PLOT_TOP + 6.0 + row as f64 * LEGEND_ROW_HEIGHT;
        let width = if percentile == "p99" { 2.0 } else { 1.2 };
        writeln!(
            f,
            r#"<line x1="{LEGEND_LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="{width}" stroke-dasharray="{dashes}"/>"#,
            LEGEND_LEFT + 24.0
        )?;
        writeln!(
            f,
            r#"<text x="{:.1}" y="{y:.1}" dy="0.35em">{} {percentile}</text>"#,
            LEGEND_LEFT + 30.0,
            escape_xml(&shorten(&phase.name, LEGEND_NAME_CHARS))
        )?;
    }
    Ok(())
}

/// `text` cut to `chars_max` characters, the last one replaced by "…" when cut.
fn shorten(text: &str, chars_max: usize) -> String {
    if text.chars().count() <= chars_max {
        return text.to_string();
    }
    let kept: String = text.chars().take(chars_max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// Text safe inside an XML element or a quoted attribute.
fn escape_xml(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{Check, LatencySummary};
    use serde_json::json;

    fn timeline(seconds: u32) -> Vec<TimelinePoint> {
        (0..seconds)
            .map(|second| TimelinePoint {
                second,
                requests: 1_000,
                p50_us: 400 + u64::from(second) * 10,
                p99_us: 2_000 + u64::from(second) * 100,
                max_us: 9_000,
            })
            .collect()
    }

    fn phase(name: &str, seconds: u32) -> PhaseSummary {
        PhaseSummary {
            name: name.to_string(),
            target: "http://127.0.0.1:8080".to_string(),
            started_at_unix_ms: 1_795_000_000_000,
            requests: 1_000_000,
            elapsed_seconds: 10.0,
            throughput_per_second: 100_000.0,
            latency: LatencySummary {
                p50_us: 850,
                p90_us: 1_240,
                p99_us: 2_100,
                p999_us: 40_000,
                max_us: 2_100_000,
                mean_us: 900.5,
            },
            codes: BTreeMap::from([
                ("LIMIT_EXCEEDED".to_string(), 1_000),
                ("OK".to_string(), 50_000),
                ("SOLD_OUT".to_string(), 949_000),
            ]),
            timeline: timeline(seconds),
        }
    }

    fn report(phases: Vec<PhaseSummary>) -> Report {
        Report {
            scenario: "flash-sale".to_string(),
            loop_mode: "closed".to_string(),
            options: json!({ "seed": 7 }),
            machine: json!({ "cores": 2, "date": "2026-11-23" }),
            phases,
            comparison: Some(Comparison {
                ratios: vec![0.85, 0.87, 0.9],
                ratio_median: 0.87,
            }),
            verdict: Some(Verdict {
                passed: true,
                checks: vec![Check {
                    name: "no oversell".to_string(),
                    passed: true,
                    detail: "50000 sold of 50000".to_string(),
                }],
            }),
        }
    }

    fn empty_report() -> Report {
        Report {
            comparison: None,
            verdict: None,
            machine: serde_json::Value::Null,
            ..report(Vec::new())
        }
    }

    fn sample() -> Report {
        report(vec![
            phase("playcore grab", 10),
            phase("ceiling round trip", 10),
        ])
    }

    #[test]
    fn table_lists_each_phase_codes_comparison_and_verdict() {
        let table = render_table(&sample());

        assert!(table.contains("flash-sale"));
        assert!(table.contains("2 cores, 2026-11-23"));
        assert!(table.contains("playcore grab"));
        assert!(table.contains("ceiling round trip"));
        assert!(table.contains("OK 50000  SOLD_OUT 949000  LIMIT_EXCEEDED 1000"));
        assert!(table.contains("playcore / ceiling: 0.87 (rounds: 0.85, 0.87, 0.90)"));
        assert!(table.contains("PASS no oversell — 50000 sold of 50000"));
        assert!(table.trim_end().ends_with("verdict: PASSED"));
    }

    #[test]
    fn table_rows_line_up() {
        let table = render_table(&sample());
        let rows: Vec<&str> = table.lines().skip(1).take(3).collect();

        let widths: Vec<usize> = rows.iter().map(|row| row.chars().count()).collect();
        assert!(widths.iter().all(|width| *width == widths[0]), "{table}");
    }

    #[test]
    fn failed_verdict_says_so() {
        let mut failed = sample();
        failed.verdict = Some(Verdict {
            passed: false,
            checks: vec![Check {
                name: "no oversell".to_string(),
                passed: false,
                detail: "50001 sold of 50000".to_string(),
            }],
        });

        let table = render_table(&failed);

        assert!(table.contains("FAIL no oversell — 50001 sold of 50000"));
        assert!(table.trim_end().ends_with("verdict: FAILED"));
    }

    #[test]
    fn latencies_read_as_people_write_them() {
        assert_eq!(format_latency(0), "0µs");
        assert_eq!(format_latency(850), "850µs");
        assert_eq!(format_latency(1_240), "1.24ms");
        assert_eq!(format_latency(1_200), "1.2ms");
        assert_eq!(format_latency(45_600), "45.6ms");
        assert_eq!(format_latency(999_400), "999ms");
        assert_eq!(format_latency(999_700), "1s");
        assert_eq!(format_latency(2_100_000), "2.1s");
    }

    #[test]
    fn json_round_trips_with_camel_case_keys() -> Result<(), Box<dyn std::error::Error>> {
        let directory = tempfile::tempdir()?;
        let path = directory.path().join("nested/deeper/report.json");

        write_json(&sample(), &path)?;

        let value: serde_json::Value = serde_json::from_str(&fs::read_to_string(&path)?)?;
        let phase = &value["phases"][0];
        assert_eq!(value["loopMode"], "closed");
        assert_eq!(phase["throughputPerSecond"], 100_000.0);
        assert_eq!(phase["latency"]["p99Us"], 2_100);
        assert_eq!(phase["timeline"][0]["p99Us"], 2_000);
        assert_eq!(value["comparison"]["ratioMedian"], 0.87);
        assert_eq!(value["verdict"]["passed"], true);
        Ok(())
    }

    #[test]
    fn chart_is_one_svg_with_two_lines_per_phase() {
        let svg = render_chart_svg(&sample());

        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(svg.contains("flash-sale (closed loop)"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn chart_escapes_names() {
        let svg = render_chart_svg(&report(vec![phase("a <&> b", 3)]));

        assert!(svg.contains("a &lt;&amp;&gt; b"));
        assert!(!svg.contains("<&>"));
    }

    #[test]
    fn chart_gridlines_follow_the_data() {
        // 400µs to 2.9ms: gridlines at 0.1, 1 and 10 ms, not at 100 or 1000.
        let svg = render_chart_svg(&report(vec![phase("grab", 10)]));

        assert!(svg.contains(">0.1</text>"));
        assert!(svg.contains(">10</text>"));
        assert!(!svg.contains(">100</text>"));
        assert_eq!(latency_decades(1_000, 1_000), (0, 1));
        assert_eq!(latency_decades(1, 2_100_000), (-3, 4));
    }

    #[test]
    fn empty_report_renders_without_panicking() {
        let empty = empty_report();

        let table = render_table(&empty);
        let svg = render_chart_svg(&empty);

        assert!(table.contains("(no phases)"));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 0);
        assert!(svg.contains("no data"));
    }

    #[test]
    fn degenerate_timelines_render_without_panicking() {
        let mut zero_latencies = phase("zero", 3);
        for point in &mut zero_latencies.timeline {
            point.p50_us = 0;
            point.p99_us = 0;
        }
        let mut idle = phase("idle", 2);
        for point in &mut idle.timeline {
            point.requests = 0;
        }
        let phases = vec![phase("empty", 0), phase("one", 1), zero_latencies, idle];

        let svg = render_chart_svg(&report(phases));

        assert_eq!(svg.matches("<polyline").count(), 8);
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        assert!(svg.contains(">0.001</text>"));
    }

    #[test]
    fn long_runs_get_round_time_ticks() {
        assert_eq!(second_step(1), 1);
        assert_eq!(second_step(10), 1);
        assert_eq!(second_step(11), 2);
        assert_eq!(second_step(600), 60);
        assert_eq!(second_step(100_000), 10_000);
    }
}
