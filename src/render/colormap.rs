//! Colormaps turning normalised scores in [0, 1] into colours, and the score scale that
//! normalises them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::map::{FloatMap, min_max};

/// A colormap for heat maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colormap {
    #[default]
    Turbo,
    Viridis,
    Inferno,
    Jet,
    Gray,
}

impl Colormap {
    /// Every colormap, for menus.
    pub const ALL: [Colormap; 5] = [
        Colormap::Turbo,
        Colormap::Viridis,
        Colormap::Inferno,
        Colormap::Jet,
        Colormap::Gray,
    ];

    /// Lower-case name, as parsed by `FromStr`.
    pub fn name(self) -> &'static str {
        match self {
            Colormap::Turbo => "turbo",
            Colormap::Viridis => "viridis",
            Colormap::Inferno => "inferno",
            Colormap::Jet => "jet",
            Colormap::Gray => "gray",
        }
    }

    /// Colour of `t` in [0, 1] (clamped; NaN counts as 0).
    pub fn rgb(self, t: f32) -> [u8; 3] {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let from = |g: colorous::Gradient| {
            let c = g.eval_continuous(f64::from(t));
            [c.r, c.g, c.b]
        };
        match self {
            Colormap::Turbo => from(colorous::TURBO),
            Colormap::Viridis => from(colorous::VIRIDIS),
            Colormap::Inferno => from(colorous::INFERNO),
            Colormap::Jet => jet(t),
            Colormap::Gray => {
                let v = to_u8(t);
                [v, v, v]
            }
        }
    }

    /// A 256-entry lookup table of [`Colormap::rgb`], for per-pixel use.
    pub fn lut(self) -> [[u8; 3]; 256] {
        std::array::from_fn(|i| self.rgb(i as f32 / 255.0))
    }
}

impl fmt::Display for Colormap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Colormap {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Colormap::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s) || (s == "grey" && *c == Colormap::Gray))
            .ok_or_else(|| {
                let names: Vec<&str> = Colormap::ALL.iter().map(|c| c.name()).collect();
                format!("unknown colormap '{s}' (one of: {})", names.join(", "))
            })
    }
}

/// MATLAB's jet: piecewise linear blue - cyan - yellow - red.
fn jet(t: f32) -> [u8; 3] {
    let channel = |centre: f32| to_u8((1.5 - (4.0 * t - centre).abs()).clamp(0.0, 1.0));
    [channel(3.0), channel(2.0), channel(1.0)]
}

fn to_u8(t: f32) -> u8 {
    (t * 255.0).round().clamp(0.0, 255.0) as u8
}

/// The score range mapped onto the colormap: `lo` to 0, `hi` to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scale {
    pub lo: f32,
    pub hi: f32,
}

impl Scale {
    /// Min-max scale of one map (finite values only).
    pub fn of(map: &FloatMap) -> Self {
        let (lo, hi) = min_max(map);
        Self { lo, hi }
    }

    /// A common scale covering several maps (to compare them on one colour scale).
    pub fn covering<'a>(maps: impl IntoIterator<Item = &'a FloatMap>) -> Self {
        let (lo, hi) = maps
            .into_iter()
            .map(min_max)
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), (a, b)| {
                (lo.min(a), hi.max(b))
            });
        if lo > hi {
            Self { lo: 0.0, hi: 0.0 }
        } else {
            Self { lo, hi }
        }
    }

    /// `v` mapped to [0, 1] (clamped). A degenerate scale (`hi <= lo`, e.g. of a constant map)
    /// maps everything to 0, the cold end: a constant map carries no location. NaN maps to 0.
    pub fn normalize(&self, v: f32) -> f32 {
        if v.is_nan() {
            return 0.0;
        }
        let span = self.hi - self.lo;
        if span > 0.0 && span.is_finite() {
            ((v - self.lo) / span).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_of_colormaps() {
        assert_eq!(Colormap::Gray.rgb(0.0), [0, 0, 0]);
        assert_eq!(Colormap::Gray.rgb(1.0), [255, 255, 255]);
        assert_eq!(Colormap::Gray.rgb(f32::NAN), [0, 0, 0]);
        assert_eq!(Colormap::Jet.rgb(0.0), [0, 0, 128]);
        assert_eq!(Colormap::Jet.rgb(0.5), [128, 255, 128]);
        assert_eq!(Colormap::Jet.rgb(1.0), [128, 0, 0]);
        assert_eq!(Colormap::Viridis.rgb(0.0), [68, 1, 84]);
        assert_eq!(Colormap::Inferno.rgb(1.0)[0], 252);
        assert_eq!(Colormap::Turbo.lut()[255], Colormap::Turbo.rgb(1.0));
        assert_eq!(Colormap::Turbo.rgb(7.0), Colormap::Turbo.rgb(1.0));
    }

    #[test]
    fn names_round_trip() {
        for c in Colormap::ALL {
            assert_eq!(c.name().parse::<Colormap>(), Ok(c));
        }
        assert_eq!(
            "Grey".to_lowercase().parse::<Colormap>(),
            Ok(Colormap::Gray)
        );
        assert!("rainbow".parse::<Colormap>().is_err());
    }

    #[test]
    fn degenerate_scale_does_not_divide_by_zero() {
        let s = Scale { lo: 2.0, hi: 2.0 };
        assert_eq!(s.normalize(2.0), 0.0);
        assert_eq!(s.normalize(3.0), 0.0);
        let s = Scale { lo: 0.0, hi: 4.0 };
        assert_eq!(s.normalize(1.0), 0.25);
        assert_eq!(s.normalize(9.0), 1.0);
        assert_eq!(s.normalize(f32::NAN), 0.0);
        let map = FloatMap::from_raw(2, 1, vec![3.0, 3.0]).unwrap();
        assert_eq!(Scale::of(&map), Scale { lo: 3.0, hi: 3.0 });
    }
}
