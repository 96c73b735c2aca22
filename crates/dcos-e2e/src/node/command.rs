//! What to run on a node, and how it becomes the exact shell text the node runs.
//!
//! Every transport hands the node one script for the user's login shell (as `sshd`
//! does). Arguments and environment values are single-quoted, so `;`, `$(...)`,
//! backticks, quotes and newlines arrive literally; only [`Command::shell`] runs text as
//! a script.

use crate::error::{CommandFailed, Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Program {
    Args(Vec<String>),
    Shell(String),
}

/// A command to run on a node: an argument list (default) or a shell script, with the
/// user, environment and logging to run it with.
///
/// ```
/// use dcos_e2e::Command;
///
/// let cmd = Command::new(["echo", "a b", "$HOME"]).env("GREETING", "it's $5");
/// assert_eq!(cmd.script().unwrap(), "export GREETING='it'\\''s $5'; 'echo' 'a b' '$HOME'");
///
/// let script = Command::shell("cd /tmp && ls | wc -l");
/// assert_eq!(script.script().unwrap(), "cd /tmp && ls | wc -l");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    program: Program,
    pub(crate) user: Option<String>,
    env: Vec<(String, String)>,
    pub(crate) sudo: bool,
    pub(crate) log_output_live: Option<bool>,
}

impl Command {
    /// Run `args` as one command; each argument arrives as given.
    pub fn new<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::with_program(Program::Args(args.into_iter().map(Into::into).collect()))
    }

    /// Run `script` as shell text, as given (pipes, `&&`, `source`, globbing all work).
    pub fn shell(script: impl Into<String>) -> Self {
        Self::with_program(Program::Shell(script.into()))
    }

    fn with_program(program: Program) -> Self {
        Self {
            program,
            user: None,
            env: Vec::new(),
            sudo: false,
            log_output_live: None,
        }
    }

    /// Run as this user instead of the cluster's default SSH user.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Set an environment variable for the command; the value arrives literally.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Set several environment variables.
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Run as root through `sudo -n` (a no-op for root).
    pub fn sudo(mut self, sudo: bool) -> Self {
        self.sudo = sudo;
        self
    }

    /// Stream each output line to the log (tracing, target `dcos_e2e::node`) as it
    /// arrives; overrides the cluster's `log_output_live`.
    pub fn log_output_live(mut self, live: bool) -> Self {
        self.log_output_live = Some(live);
        self
    }

    /// The shell text the node runs, as you could paste it into a shell there.
    pub fn script(&self) -> Result<String> {
        let body = match &self.program {
            Program::Args(args) if args.is_empty() => {
                return Err(Error::invalid(
                    "args",
                    "[]",
                    "a command needs at least one argument",
                ));
            }
            Program::Args(args) => args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
            Program::Shell(script) if script.trim().is_empty() => {
                return Err(Error::invalid(
                    "script",
                    script,
                    "the shell script is empty",
                ));
            }
            Program::Shell(script) => script.clone(),
        };
        let mut exports = Vec::with_capacity(self.env.len());
        for (key, value) in &self.env {
            if !valid_env_name(key) {
                return Err(Error::invalid(
                    "env",
                    key,
                    "variable names are letters, digits and _, not starting with a digit",
                ));
            }
            exports.push(format!("{key}={}", quote(value)));
        }
        Ok(if exports.is_empty() {
            body
        } else {
            format!("export {}; {body}", exports.join(" "))
        })
    }

    /// The script, wrapped in `sudo` when asked and the user is not already root.
    pub(crate) fn script_for(&self, user: &str) -> Result<String> {
        let script = self.script()?;
        Ok(if self.sudo && user != "root" {
            format!("sudo -n -- sh -c {}", quote(&script))
        } else {
            script
        })
    }
}

impl<S: Into<String>, const N: usize> From<[S; N]> for Command {
    fn from(args: [S; N]) -> Self {
        Command::new(args)
    }
}

impl<S: Into<String>> From<Vec<S>> for Command {
    fn from(args: Vec<S>) -> Self {
        Command::new(args)
    }
}

impl From<&[&str]> for Command {
    fn from(args: &[&str]) -> Self {
        Command::new(args.iter().copied())
    }
}

fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Quote one word for a POSIX shell: always single quotes, `'` written as `'\''`.
pub fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// What a finished command left: exit status and captured output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit status; 128 + signal number when it was killed by a signal.
    pub status: i32,
    /// Captured standard output.
    pub stdout: Vec<u8>,
    /// Captured standard error.
    pub stderr: Vec<u8>,
}

impl Output {
    /// Standard output as text (lossy UTF-8), without the trailing newline.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout)
            .trim_end_matches('\n')
            .to_string()
    }

    /// Standard error as text (lossy UTF-8), without the trailing newline.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr)
            .trim_end_matches('\n')
            .to_string()
    }

    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        self.status == 0
    }

    /// This output, or [`Error::CommandFailed`](crate::Error::CommandFailed) for
    /// `command` on `node` when the status is not 0.
    pub(crate) fn checked(self, node: &str, command: String) -> Result<Output> {
        if self.status == 0 {
            return Ok(self);
        }
        Err(CommandFailed {
            node: node.to_string(),
            command,
            status: self.status,
            stdout: self.stdout,
            stderr: self.stderr,
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_so_nothing_is_interpreted() {
        let hostile = [
            "echo",
            "; rm -rf /",
            "$(id)",
            "`id`",
            "a'b",
            "line1\nline2",
            "&&",
            "*",
        ];
        let script = Command::new(hostile).script().unwrap();
        assert_eq!(
            script,
            "'echo' '; rm -rf /' '$(id)' '`id`' 'a'\\''b' 'line1\nline2' '&&' '*'"
        );
    }

    #[test]
    fn shell_form_runs_as_given() {
        let script = "source /etc/profile && cd /tmp && pytest -x";
        assert_eq!(Command::shell(script).script().unwrap(), script);
    }

    #[test]
    fn env_values_are_literal_and_names_checked() {
        let cmd = Command::new(["env"])
            .env("A", "x y")
            .env("B", "'\"$HOME\"'");
        assert_eq!(
            cmd.script().unwrap(),
            r#"export A='x y' B=''\''"$HOME"'\'''; 'env'"#
        );
        let err = Command::new(["env"])
            .env("BAD NAME", "1")
            .script()
            .unwrap_err();
        assert!(err.to_string().contains("BAD NAME"), "{err}");
        assert!(Command::new(["env"]).env("1X", "1").script().is_err());
    }

    #[test]
    fn empty_commands_are_refused() {
        assert!(Command::new(Vec::<String>::new()).script().is_err());
        assert!(Command::shell("  ").script().is_err());
    }

    #[test]
    fn sudo_wraps_only_for_non_root() {
        let cmd = Command::new(["id", "-u"]).sudo(true);
        assert_eq!(cmd.script_for("root").unwrap(), "'id' '-u'");
        assert_eq!(
            cmd.script_for("alice").unwrap(),
            r#"sudo -n -- sh -c ''\''id'\'' '\''-u'\'''"#
        );
    }

    #[test]
    fn quote_round_trips_through_sh() {
        let words = ["plain", "", "a b", "it's", "$x", "\\", "\n", "'''"];
        for w in words {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", quote(w)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), w);
        }
    }
}
