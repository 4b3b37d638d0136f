//! Which stages a build needs: the target (the last stage by default) and,
//! transitively, the stages it is built `FROM` or copies `--from`; nothing
//! else is built. A cycle or a target that does not exist is an error that
//! names the line.

use crate::dockerfile::{Dockerfile, Instr};
use crate::error::BuildError;
use crate::words::{expand, Vars};

/// The stage a `FROM` or `--from` value names: a stage name (any case) or,
/// for `--from`, a stage index. None: an image.
pub fn stage_ref(df: &Dockerfile, value: &str, allow_index: bool) -> Option<usize> {
    let v = value.to_lowercase();
    if let Some(s) = df.stages.iter().find(|s| s.name.as_deref() == Some(&v)) {
        return Some(s.index);
    }
    if allow_index {
        if let Ok(i) = v.parse::<usize>() {
            return (i < df.stages.len()).then_some(i);
        }
    }
    None
}

/// A stage's dependencies, each with the line that makes it.
pub fn dependencies(
    df: &Dockerfile,
    stage: usize,
    global: &Vars,
) -> Result<Vec<(usize, usize)>, BuildError> {
    let s = &df.stages[stage];
    let mut out = Vec::new();
    let base = expand(&s.base, global, df.escape).map_err(|source| BuildError::Word {
        line: s.line,
        keyword: "FROM",
        source,
    })?;
    if let Some(d) = stage_ref(df, &base, false) {
        out.push((d, s.line));
    }
    for step in &s.steps {
        let flags = match &step.instr {
            Instr::Copy(c) | Instr::Add(c) => &c.flags,
            _ => continue,
        };
        for f in flags.iter().filter(|f| f.name == "from") {
            let v = f.value.as_deref().unwrap_or("");
            let v = expand(v, global, df.escape).map_err(|source| BuildError::Word {
                line: step.line,
                keyword: step.instr.keyword(),
                source,
            })?;
            if let Some(d) = stage_ref(df, &v, true) {
                out.push((d, step.line));
            }
        }
    }
    Ok(out)
}

/// The stages to build for `target`, dependencies before dependents.
pub fn select(
    df: &Dockerfile,
    target: Option<&str>,
    global: &Vars,
) -> Result<Vec<usize>, BuildError> {
    let target = match target {
        None => df.stages.len() - 1,
        Some(t) => {
            let t = t.to_lowercase();
            df.stages
                .iter()
                .find(|s| s.name.as_deref() == Some(&t))
                .map(|s| s.index)
                .ok_or_else(|| BuildError::UnknownTarget {
                    target: t,
                    known: known_stages(df),
                })?
        }
    };
    let mut order = Vec::new();
    let mut state = vec![Mark::New; df.stages.len()];
    let mut path = Vec::new();
    visit(df, target, global, &mut state, &mut path, &mut order)?;
    Ok(order)
}

fn known_stages(df: &Dockerfile) -> String {
    let names: Vec<String> = df
        .stages
        .iter()
        .filter_map(|s| s.name.as_ref().map(|n| format!("{n} (line {})", s.line)))
        .collect();
    if names.is_empty() {
        "none is named (FROM … AS name)".into()
    } else {
        names.join(", ")
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    New,
    Visiting,
    Done,
}

fn stage_name(df: &Dockerfile, i: usize) -> String {
    df.stages[i].name.clone().unwrap_or_else(|| i.to_string())
}

fn visit(
    df: &Dockerfile,
    i: usize,
    global: &Vars,
    state: &mut Vec<Mark>,
    path: &mut Vec<usize>,
    order: &mut Vec<usize>,
) -> Result<(), BuildError> {
    state[i] = Mark::Visiting;
    path.push(i);
    for (dep, line) in dependencies(df, i, global)? {
        match state[dep] {
            Mark::Done => {}
            Mark::Visiting => {
                let from = path.iter().position(|&p| p == dep).unwrap_or(0);
                let mut names: Vec<String> =
                    path[from..].iter().map(|&p| stage_name(df, p)).collect();
                names.push(stage_name(df, dep));
                return Err(BuildError::Cycle {
                    line,
                    cycle: names.join(" -> "),
                });
            }
            Mark::New => visit(df, dep, global, state, path, order)?,
        }
    }
    path.pop();
    state[i] = Mark::Done;
    order.push(i);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::parse;

    fn sel(text: &str, target: Option<&str>) -> Result<Vec<usize>, BuildError> {
        let df = parse(text).unwrap();
        let mut g = Vars::new();
        g.insert("V".into(), "base".into());
        select(&df, target, &g)
    }

    const MULTI: &str = "FROM busybox AS base\nRUN true\nFROM busybox AS unused\nRUN false\nFROM base AS tools\nFROM scratch AS final\nCOPY --from=tools /a /a\nCOPY --from=0 /b /b\nCOPY --from=alpine:3 /c /c\n";

    #[test]
    fn only_what_the_target_needs_in_order() {
        assert_eq!(sel(MULTI, None).unwrap(), [0, 2, 3]);
        assert_eq!(sel(MULTI, Some("TOOLS")).unwrap(), [0, 2]);
        assert_eq!(sel(MULTI, Some("unused")).unwrap(), [1]);
        // FROM through a global ARG.
        assert_eq!(
            sel("FROM busybox AS base\nFROM ${V}\n", None).unwrap(),
            [0, 1]
        );
    }

    #[test]
    fn unknown_target_lists_the_stages() {
        let e = sel(MULTI, Some("nope")).unwrap_err().to_string();
        assert!(
            e.contains("\"nope\"") && e.contains("tools (line 5)"),
            "{e}"
        );
    }

    #[test]
    fn cycles_name_the_line() {
        let text =
            "FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\nCOPY --from=a /y /y\n";
        let e = sel(text, Some("a")).unwrap_err().to_string();
        assert_eq!(
            e,
            "Dockerfile:4: circular dependency between stages: a -> b -> a"
        );
        let e = sel("FROM busybox AS a\nCOPY --from=a /x /x\n", None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "Dockerfile:2: circular dependency between stages: a -> a"
        );
    }
}
