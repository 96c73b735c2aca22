//! 2. Scaling to 30 nodes.

use anyhow::{Context, Result};

use crate::baseline::baseline_or_note;
use crate::report::Target;
use crate::state::Bench;
use crate::timeline::Round;

pub async fn bench(b: &mut Bench) -> Result<()> {
    eprintln!("\n## scaling");
    let base_image = b.baseline_image.clone().context("no baseline image")?;
    let mut growth = Vec::new();
    let ours3 = b
        .report
        .rows
        .iter()
        .find(|r| r.metric.starts_with("provision 1+1+1"))
        .and_then(|r| r.ours);
    if let (Some(o), Some(bp)) = (ours3, b.base3("provision_s")) {
        growth.push(format!("3 nodes {o:.2}s (baseline {bp:.2}s)"));
    }
    for nodes in b.cfg.scale.clone() {
        let per = nodes.div_ceil(3);
        let (m, a, pa) = (per, per, nodes - 2 * per);
        let figures = baseline_or_note(&mut b.report, &base_image, nodes, 1);
        let Round {
            id,
            provision: p,
            destroy: d,
            timeline,
            left,
            ..
        } = Round::run(b, m, a, pa).await?;
        eprintln!(
            "  {nodes} nodes ({m}+{a}+{pa}): provision {p:.2}s, destroy {d:.2}s, left {left}"
        );
        eprintln!("    timeline: {}", timeline.describe());
        let bp = figures.get("provision_s").copied();
        let bd = figures.get("destroy_s").copied();
        growth.push(format!(
            "{nodes} nodes {p:.2}s (baseline {})",
            bp.map_or("?".into(), |v| format!("{v:.2}s"))
        ));
        let target = if nodes >= 30 {
            Target::AtMost(10.0)
        } else {
            Target::None
        };
        b.report.row(
            format!("provision {nodes} nodes ({m}+{a}+{pa})"),
            Some(p),
            bp,
            format!("baseline.sh {nodes} nodes provision_s"),
            "s",
            target,
        );
        b.report.row(
            format!("destroy {nodes} nodes"),
            Some(d),
            bd,
            format!("baseline.sh {nodes} nodes destroy_s"),
            "s",
            Target::None,
        );
        if nodes >= 30 {
            b.report
                .note(format!("{nodes}-node provision: {}", timeline.describe()));
        }
        if left > 0 {
            b.report.note(format!(
                "destroy of {id} ({nodes} nodes) left {left} Docker objects"
            ));
        }
    }
    b.report
        .note(format!("provision time by size: {}", growth.join("; ")));
    Ok(())
}
