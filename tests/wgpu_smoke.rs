//! The same model gives the same numbers on wgpu (e.g. Mesa's lavapipe in CI) as on the CPU.

use vaelens::backend::{BackendChoice, select};
use vaelens::explain::cam::GradCam;
use vaelens::explain::{AttentionTarget, Explainer, NormalStats};
use vaelens::model::{Vae, VaeConfig, init_weights};

fn explainer(device: &burn::tensor::Device) -> Explainer {
    let config = VaeConfig {
        input_size: 32,
        channels: 3,
        stages: vec![8, 16],
        hidden: 32,
        latent_dim: 4,
        backbone: None,
    };
    let model = Vae::from_tensors(&config, &init_weights(&config, 5), device).unwrap();
    Explainer::new(model, config, NormalStats::prior(4), device.clone())
}

#[test]
fn wgpu_agrees_with_the_cpu() {
    let gpu = match select(BackendChoice::Wgpu) {
        Ok(backend) => backend,
        Err(why) => {
            eprintln!("no wgpu adapter on this machine, nothing to compare: {why}");
            return;
        }
    };
    eprintln!("comparing {} with the CPU", gpu.description);
    let cpu = select(BackendChoice::Cpu).unwrap();
    let image: Vec<f32> = (0..3 * 32 * 32)
        .map(|i| ((i * 37) % 101) as f32 / 100.0)
        .collect();
    let (on_gpu, on_cpu) = (explainer(&gpu.device), explainer(&cpu.device));
    let (mu_g, _) = on_gpu.encode(&image);
    let (mu_c, _) = on_cpu.encode(&image);
    for (g, c) in mu_g.iter().zip(&mu_c) {
        assert!((g - c).abs() < 1e-4, "mu: wgpu {g} vs cpu {c}");
    }
    let maps_g = on_gpu.attention(&image, 1, AttentionTarget::Mu, &GradCam);
    let maps_c = on_cpu.attention(&image, 1, AttentionTarget::Mu, &GradCam);
    let scale = maps_c.overall.iter().fold(0.0f32, |m, v| m.max(*v));
    for (g, c) in maps_g.overall.iter().zip(maps_c.overall.iter()) {
        assert!(
            (g - c).abs() <= 1e-3 * scale + 1e-6,
            "overall map: wgpu {g} vs cpu {c}"
        );
    }
}
