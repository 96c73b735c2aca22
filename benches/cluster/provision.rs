//! 1. Provision and destroy 1+1+1, paired with baseline runs.

use anyhow::{Context, Result};

use crate::baseline::baseline_or_note;
use crate::report::{Target, list, median};
use crate::state::Bench;
use crate::timeline::Round;

pub async fn bench(b: &mut Bench) -> Result<()> {
    eprintln!(
        "\n## provision / destroy 1+1+1 ({} paired repetitions)",
        b.cfg.reps
    );
    let base_image = b.baseline_image.clone().context("no baseline image")?;
    let (mut ours_p, mut ours_d) = (Vec::new(), Vec::new());
    for rep in 0..b.cfg.reps {
        // The first baseline run also measures transfers, with the bench's file size.
        let mib = if rep == 0 { b.cfg.mib } else { 1 };
        let figures = baseline_or_note(&mut b.report, &base_image, 3, mib);
        eprintln!("  baseline run {}: {figures:?}", rep + 1);
        for (k, v) in figures {
            if rep > 0 && (k.ends_with("mb_s")) {
                continue;
            }
            b.base3.entry(k).or_default().push(v);
        }

        let Round {
            id,
            provision: p,
            destroy: d,
            timeline,
            left,
            workspace_left: ws_left,
        } = Round::run(b, 1, 1, 1).await?;
        eprintln!(
            "  ours run {}{}: provision {p:.2}s, destroy {d:.2}s, left after destroy: {left} objects{}",
            rep + 1,
            if rep == 0 {
                " (cold: first cluster of the process)"
            } else {
                ""
            },
            if ws_left { " + workspace" } else { "" }
        );
        eprintln!("    timeline: {}", timeline.describe());
        if rep == 0 || rep + 1 == b.cfg.reps {
            b.report.note(format!(
                "1+1+1 provision run {}{}: {}",
                rep + 1,
                if rep == 0 { " (cold)" } else { "" },
                timeline.describe()
            ));
        }
        if left > 0 || ws_left {
            b.report.note(format!(
                "destroy of {id} left {left} Docker objects{}",
                if ws_left { " and its workspace" } else { "" }
            ));
        }
        ours_p.push(p);
        ours_d.push(d);
    }
    let reps = b.cfg.reps;
    b.report.row(
        format!("provision 1+1+1 to SSH-ready (median of {reps})"),
        median(&ours_p),
        b.base3("provision_s"),
        "baseline.sh provision_s (median)",
        "s",
        Target::AtMostTimesBase(1.2),
    );
    b.report.row(
        format!("destroy 1+1+1, nothing left (median of {reps})"),
        median(&ours_d),
        b.base3("destroy_s"),
        "baseline.sh destroy_s (median)",
        "s",
        Target::AtMostTimesBase(1.2),
    );
    b.report.note(format!(
        "provision samples ours [{}] s, baseline [{}] s; destroy samples ours [{}] s, baseline [{}] s",
        list(&ours_p),
        list(b.base3.get("provision_s").map_or(&[][..], |v| v)),
        list(&ours_d),
        list(b.base3.get("destroy_s").map_or(&[][..], |v| v)),
    ));
    Ok(())
}
