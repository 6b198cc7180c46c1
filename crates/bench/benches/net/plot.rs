//! Latency distributions as SVG (plotters): one cumulative distribution line per stack.

use std::path::Path;

use anyhow::anyhow;
use plotters::prelude::*;

use crate::stats::Samples;

/// One plot: a latency distribution per stack.
pub(crate) struct Figure {
    /// File name under the output directory.
    pub(crate) file: &'static str,
    pub(crate) title: String,
    pub(crate) x_label: &'static str,
    /// `(stack, samples)`; samples share the unit of `x_label`.
    pub(crate) series: Vec<(String, Samples)>,
}

/// At most this many points per line.
const POINTS: usize = 400;

/// Writes `figure` as `dir/<file>`: a CDF per series on a logarithmic x axis.
pub(crate) fn write(dir: &Path, figure: &Figure) -> anyhow::Result<()> {
    let series: Vec<&(String, Samples)> =
        figure.series.iter().filter(|(_, s)| s.len() > 0).collect();
    let (min, max) = series
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), (_, s)| {
            (lo.min(s.quantile(0.0)), hi.max(s.quantile(1.0)))
        });
    if series.is_empty() || !(min > 0.0 && max >= min) {
        return Ok(());
    }
    let path = dir.join(figure.file);
    let root = SVGBackend::new(&path, (880, 500)).into_drawing_area();
    let draw = |e: &dyn std::fmt::Display| anyhow!("plot {}: {e}", figure.file);
    root.fill(&WHITE).map_err(|e| draw(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(&figure.title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d((min * 0.9..max * 1.1).log_scale(), 0.0..1.0)
        .map_err(|e| draw(&e))?;
    chart
        .configure_mesh()
        .x_desc(figure.x_label)
        .y_desc("fraction of messages at or below")
        .draw()
        .map_err(|e| draw(&e))?;
    for (i, (label, samples)) in series.into_iter().enumerate() {
        let color = color_of(label, i);
        let sorted = samples.sorted();
        let step = (sorted.len() / POINTS).max(1);
        let n = sorted.len() as f64;
        let points = sorted
            .iter()
            .enumerate()
            .filter(|(k, _)| k % step == 0 || *k == sorted.len() - 1)
            .map(|(k, v)| (*v, (k + 1) as f64 / n));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| draw(&e))?
            .label(label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|e| draw(&e))?;
    root.present().map_err(|e| draw(&e))?;
    Ok(())
}

/// The same colour for a stack in every plot: ours blue, ours through the node API cyan,
/// gossipsub over our TLS green, stock libp2p orange, rustls purple, raw TCP grey.
fn color_of(label: &str, index: usize) -> RGBAColor {
    let rgb = if label.contains("our TLS") {
        RGBColor(44, 160, 44)
    } else if label.contains("node API") {
        RGBColor(23, 190, 207)
    } else if label.starts_with("ours") {
        RGBColor(31, 119, 180)
    } else if label.contains("noise") {
        RGBColor(255, 127, 14)
    } else if label.contains("rustls") {
        RGBColor(148, 103, 189)
    } else if label.contains("TCP") {
        RGBColor(110, 110, 110)
    } else {
        return Palette99::pick(index).to_rgba();
    };
    rgb.to_rgba()
}
