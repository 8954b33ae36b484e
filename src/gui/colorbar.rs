//! A colour bar under a heat map: the colormap's gradient with the numbers of its scale at the
//! ends (and the middle, where there is room), so a colour reads as a value. A flat map (every
//! value the same) says so instead, since its colours carry no location.

use eframe::egui;

use crate::render::{Colormap, Scale, human32};

/// Height of the gradient strip in points.
const STRIP: f32 = 8.0;
/// Below this width only the two ends are labelled.
const ROOM_FOR_MIDDLE: f32 = 180.0;

/// Draws the bar `width` points wide; `what` names the values (e.g. "attention", "anomaly
/// score") for the hover text and screen readers.
pub fn colour_bar(
    ui: &mut egui::Ui,
    cmap: Colormap,
    scale: Scale,
    width: f32,
    what: &str,
) -> egui::Response {
    let font = egui::TextStyle::Small.resolve(ui.style());
    let label_height = ui.fonts_mut(|f| f.row_height(&font));
    let (rect, response) = ui.allocate_exact_size(
        egui::vec2(width, STRIP + 2.0 + label_height),
        egui::Sense::hover(),
    );
    let strip = egui::Rect::from_min_size(rect.min, egui::vec2(width, STRIP));
    let painter = ui.painter_at(rect);
    painter.add(gradient(strip, cmap));
    let colour = ui.visuals().text_color();
    let flat = scale.hi <= scale.lo || !(scale.hi - scale.lo).is_finite();
    let text_y = strip.bottom() + 2.0;
    let summary = if flat {
        let text = format!("flat: {}", human32(scale.lo));
        painter.text(
            egui::pos2(strip.center().x, text_y),
            egui::Align2::CENTER_TOP,
            &text,
            font,
            colour,
        );
        format!(
            "{what} colour scale: flat map, every value {}",
            human32(scale.lo)
        )
    } else {
        let mut ends = vec![
            (strip.left(), egui::Align2::LEFT_TOP, scale.lo),
            (strip.right(), egui::Align2::RIGHT_TOP, scale.hi),
        ];
        if width >= ROOM_FOR_MIDDLE {
            let middle = 0.5 * (scale.lo + scale.hi);
            ends.push((strip.center().x, egui::Align2::CENTER_TOP, middle));
        }
        for (x, align, value) in ends {
            painter.text(
                egui::pos2(x, text_y),
                align,
                human32(value),
                font.clone(),
                colour,
            );
        }
        format!(
            "{what} colour scale: {} to {}",
            human32(scale.lo),
            human32(scale.hi)
        )
    };
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, &summary));
    response.on_hover_text(summary)
}

/// The colormap from left (scale.lo) to right (scale.hi) as a mesh of vertical bands.
fn gradient(rect: egui::Rect, cmap: Colormap) -> egui::Shape {
    const BANDS: u32 = 48;
    let mut mesh = egui::Mesh::default();
    for i in 0..=BANDS {
        let t = i as f32 / BANDS as f32;
        let [r, g, b] = cmap.rgb(t);
        let colour = egui::Color32::from_rgb(r, g, b);
        let x = rect.left() + t * rect.width();
        mesh.colored_vertex(egui::pos2(x, rect.top()), colour);
        mesh.colored_vertex(egui::pos2(x, rect.bottom()), colour);
        if i > 0 {
            let k = 2 * i;
            mesh.add_triangle(k - 2, k - 1, k);
            mesh.add_triangle(k - 1, k, k + 1);
        }
    }
    egui::Shape::mesh(mesh)
}
