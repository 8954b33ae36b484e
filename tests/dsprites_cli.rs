//! `vaelens dsprites train` and `eval` end to end on a few steps: the run's files and the report's
//! keys, for each of the three models.

use std::path::Path;
use std::process::Command;

fn vaelens(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vaelens"))
        .args(args)
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "vaelens {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn train_then_eval_each_model() {
    let dir = tempfile::tempdir().unwrap();
    for model in ["beta", "factor", "ad-factor"] {
        let run = dir.path().join(model);
        vaelens(&[
            "dsprites",
            "train",
            "--model",
            model,
            "--steps",
            "3",
            "--batch",
            "8",
            "--out",
            s(&run),
            "--backend",
            "cpu",
        ]);
        for file in [
            "model.safetensors",
            "config.json",
            "dsprites.json",
            "traversal.png",
        ] {
            assert!(run.join(file).is_file(), "{model}: no {file}");
        }
        let grid = image::open(run.join("traversal.png")).unwrap();
        // Ten latent rows and nine columns of 64 px tiles, 2 px apart.
        assert_eq!((grid.width(), grid.height()), (9 * 66 - 2, 10 * 66 - 2));
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run.join("dsprites.json")).unwrap()).unwrap();
        assert_eq!(record["steps_done"], 3);
        let first = &record["history"][0];
        assert_eq!(
            first["total_correlation"].is_number(),
            model != "beta",
            "{first}"
        );
        assert_eq!(
            first["attention"].is_number(),
            model == "ad-factor",
            "{first}"
        );

        let report = dir.path().join(format!("{model}.json"));
        let printed = vaelens(&[
            "dsprites",
            "eval",
            s(&run),
            "--report",
            s(&report),
            "--votes",
            "20",
            "--samples",
            "300",
            "--backend",
            "cpu",
        ]);
        assert!(printed.contains("FactorVAE score"), "{printed}");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        let score = json["factorvae_score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "{json}");
        let mig = json["mig"].as_f64().unwrap();
        assert!((-1e-9..=1.0).contains(&mig), "{json}");
        // 4096 pixels of Bernoulli NLL: positive, and at most 4096 ln 2 plus a margin for an
        // untrained decoder's confident mistakes.
        let recon = json["reconstruction"].as_f64().unwrap();
        assert!(recon > 0.0 && recon < 20_000.0, "{json}");
        let active = json["active_units"].as_u64().unwrap();
        assert!(active <= 10, "{json}");
        assert_eq!(json["model"], model);
    }
}
