//! What to run on a node, and how it becomes the exact shell text the node runs.
//!
//! Every transport hands the node one POSIX script, run by the user's login shell when
//! that is a POSIX shell (bash, dash, zsh, ...; as `sshd` would) and by `/bin/sh`
//! otherwise (fish, csh, ...), always in the user's login environment
//! ([`for_any_login_shell`], [`POSIX_SHELLS`]). Arguments and environment values are
//! single-quoted, so `;`, `$(...)`, backticks, quotes and newlines arrive literally; only
//! [`Command::shell`] runs text as a script.

use crate::error::{CommandFailed, Error, Parameter, Result};

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
    pub(crate) tty: Option<Tty>,
    pub(crate) stdin: bool,
}

/// A pseudo-terminal for a command ([`Command::tty`]): its size in character cells and
/// its terminal type, which the node's programs see as `TERM`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tty {
    /// Columns (at least 1).
    pub cols: u16,
    /// Rows (at least 1).
    pub rows: u16,
    /// Terminal type: letters, digits and `-` `.` `+` `_`, such as `xterm-256color`.
    pub term: String,
}

impl Tty {
    /// A terminal of `cols` columns and `rows` rows, of type `xterm` (known everywhere).
    pub fn new(cols: u16, rows: u16) -> Self {
        Self {
            cols,
            rows,
            term: "xterm".into(),
        }
    }

    /// Another terminal type, such as the local `$TERM`.
    pub fn term(mut self, term: impl Into<String>) -> Self {
        self.term = term.into();
        self
    }

    /// This terminal, or why a node could not be given it.
    pub(crate) fn checked(&self) -> Result<&Self> {
        check_size(self.cols, self.rows)?;
        let ok = |c: char| c.is_ascii_alphanumeric() || "-.+_".contains(c);
        if self.term.is_empty() || !self.term.chars().all(ok) {
            return Err(Error::invalid(
                Parameter::Tty,
                &self.term,
                "a terminal type is letters, digits and - . + _ (such as xterm-256color)",
            ));
        }
        Ok(self)
    }
}

/// Refuse a terminal without a column or a row: programs divide by its size.
pub(crate) fn check_size(cols: u16, rows: u16) -> Result<()> {
    if cols == 0 || rows == 0 {
        return Err(Error::invalid(
            Parameter::Tty,
            format!("{cols}x{rows}"),
            "a terminal has at least one column and one row",
        ));
    }
    Ok(())
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
            tty: None,
            stdin: false,
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

    /// Run on a pseudo-terminal, as `ssh -t` or `docker exec -t` would: the command sees
    /// a terminal on its standard input, output and error, of this size and type, and
    /// its output and errors arrive as one stream, as a terminal shows them (on
    /// standard output, lines ending in `\r\n`). With [`Node::popen`](crate::Node::popen)
    /// and [`Command::stdin`], what is written to [`Process::stdin`](crate::Process::stdin)
    /// is typed on that terminal (`\x03` is Ctrl-C, `\x04` Ctrl-D) and
    /// [`Process::resize`](crate::Process::resize) changes its size. Otherwise nothing is
    /// typed: a program that reads its terminal waits.
    pub fn tty(mut self, tty: Tty) -> Self {
        self.tty = Some(tty);
        self
    }

    /// Give the command a standard input that [`Process::stdin`](crate::Process::stdin)
    /// writes, for [`Node::popen`](crate::Node::popen). Without it, and always with
    /// `run` and `output`, the command reads end of file at once (on a terminal,
    /// nothing is typed instead).
    pub fn stdin(mut self, piped: bool) -> Self {
        self.stdin = piped;
        self
    }

    /// The terminal asked for, if it is one a node can give.
    pub(crate) fn checked_tty(&self) -> Result<Option<&Tty>> {
        self.tty.as_ref().map(Tty::checked).transpose()
    }

    /// The shell text the node runs, as you could paste it into a shell there.
    pub fn script(&self) -> Result<String> {
        self.render(false)
    }

    /// The script with each environment value shown as `<redacted>`: what messages and
    /// errors show ([`crate::CommandFailed::command`]), as values passed with
    /// [`Command::env`] are often secrets.
    pub(crate) fn shown(&self) -> Result<String> {
        self.render(true)
    }

    fn render(&self, redact: bool) -> Result<String> {
        let body = match &self.program {
            Program::Args(args) if args.is_empty() => {
                return Err(Error::invalid(
                    Parameter::Args,
                    "[]",
                    "a command needs at least one argument",
                ));
            }
            Program::Args(args) => args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
            Program::Shell(script) if script.trim().is_empty() => {
                return Err(Error::invalid(
                    Parameter::Script,
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
                    Parameter::Env,
                    key,
                    "variable names are letters, digits and _, not starting with a digit",
                ));
            }
            // Unquoted on purpose: pasted into a shell, it fails (a redirection from a
            // missing file) instead of running with a wrong value.
            let value = if redact {
                REDACTED.to_string()
            } else {
                quote(value)
            };
            exports.push(format!("{key}={value}"));
        }
        Ok(if exports.is_empty() {
            body
        } else {
            format!("export {}; {body}", exports.join(" "))
        })
    }

    /// The script, wrapped in `sudo` when asked and the user is not already root.
    pub(crate) fn script_for(&self, user: &str) -> Result<String> {
        Ok(self.with_sudo(user, self.script()?))
    }

    /// [`Command::script_for`] as messages show it ([`Command::shown`]).
    pub(crate) fn shown_for(&self, user: &str) -> Result<String> {
        Ok(self.with_sudo(user, self.shown()?))
    }

    fn with_sudo(&self, user: &str, script: String) -> String {
        if self.sudo && user != "root" {
            format!("sudo -n -- sh -c {}", quote(&script))
        } else {
            script
        }
    }
}

/// What an environment value shows as in messages.
const REDACTED: &str = "<redacted>";

/// Login shells (by file name) that run our POSIX scripts as `sh` would; any other
/// login shell (fish, csh, tcsh, nu, ...) gets them run by `/bin/sh` instead. A `case`
/// pattern list.
pub(crate) const POSIX_SHELLS: &str = "sh|bash|rbash|dash|ash|ksh|ksh93|mksh|pdksh|zsh|yash|posh";

/// `script` as the command line sshd gives the user's login shell (`$SHELL -c LINE`),
/// whatever that shell is: the line is `exec /bin/sh -c '…'`, which every shell parses
/// alike (one simple command, one single-quoted word), and that `sh` runs `script` with
/// the login shell when it is in [`POSIX_SHELLS`], else itself. Inside the word the
/// script is a `printf` format in which every byte some shell would interpret (quotes,
/// `\`, `$`, `!`, `%`, newlines, non-ASCII) is an octal escape: fish reads `\\` and
/// `\'` in single quotes, csh allows no newline there and expands `!`. Each step
/// `exec`s, so the pid stays the one sshd started: the process group leader that
/// `Process::kill` stops.
pub(crate) fn for_any_login_shell(script: &str) -> String {
    let chooser = format!(
        "s={}; case \"${{SHELL##*/}}\" in {POSIX_SHELLS}) exec \"$SHELL\" -c \"$s\";; esac; exec /bin/sh -c \"$s\"",
        quote(script)
    );
    let mut format = String::with_capacity(chooser.len() + chooser.len() / 4);
    for &b in chooser.as_bytes() {
        if b.is_ascii_alphanumeric() || b" #&()*+,-./:;<=>?@[]^_{|}~".contains(&b) {
            format.push(b as char);
        } else {
            format.push_str(&format!("\\{b:03o}"));
        }
    }
    format!("exec /bin/sh -c 'eval \"$(printf \"{format}\")\"'")
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
    /// `command` (as shown: [`Command::shown_for`]) on `node` when the status is not 0.
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
    fn messages_show_env_values_redacted() {
        let cmd = Command::new(["deploy"])
            .env("TOKEN", "s3cr3t value")
            .env("USER_NAME", "it's me");
        assert_eq!(
            cmd.script().unwrap(),
            "export TOKEN='s3cr3t value' USER_NAME='it'\\''s me'; 'deploy'"
        );
        assert_eq!(
            cmd.shown().unwrap(),
            "export TOKEN=<redacted> USER_NAME=<redacted>; 'deploy'"
        );
        let sudo = cmd.clone().sudo(true);
        let shown = sudo.shown_for("alice").unwrap();
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("it's"),
            "{shown}"
        );
        assert!(shown.starts_with("sudo -n -- sh -c "), "{shown}");
        assert!(sudo.script_for("alice").unwrap().contains("s3cr3t"));
        // Nothing to redact: the message is the script.
        let plain = Command::shell("echo hi");
        assert_eq!(plain.shown().unwrap(), plain.script().unwrap());
    }

    /// Run `line` as sshd would with `shell` as the login shell: `$SHELL -c LINE`.
    fn as_sshd(shell: &str, line: &str) -> std::process::Output {
        std::process::Command::new(shell)
            .arg("-c")
            .arg(line)
            .env("SHELL", shell)
            .output()
            .unwrap()
    }

    #[test]
    fn any_login_shell_runs_the_script_with_sh() {
        let nasty = "printf '%s|' \"$0\" 'a'\\''b' \"\\\\\" '!x' '%d' \"$(echo sub)\" `echo tick` 'é'; \
                     echo; echo line2 >&2; exit 3";
        let line = for_any_login_shell(nasty);
        // What a non-POSIX login shell sees: one simple command whose single-quoted
        // word has nothing fish, csh or others would read differently.
        let word = line
            .strip_prefix("exec /bin/sh -c '")
            .and_then(|w| w.strip_suffix('\''))
            .expect("one single-quoted word");
        for bad in ["'", "\\\\", "!", "\n"] {
            assert!(!word.contains(bad), "{bad:?} in {word}");
        }
        assert!(word.is_ascii());
        // Run by a POSIX login shell itself, and by /bin/sh for any other (`$0` says
        // which ran it; the "fish" here is sh under another name).
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("fish");
        std::os::unix::fs::symlink("/bin/sh", &other).unwrap();
        for (shell, zero) in [
            ("/bin/bash", "/bin/bash"),
            (other.to_str().unwrap(), "/bin/sh"),
        ] {
            let out = as_sshd(shell, &line);
            assert_eq!(out.status.code(), Some(3), "{shell}: {out:?}");
            let stdout = String::from_utf8(out.stdout).unwrap();
            assert_eq!(
                stdout,
                format!("{zero}|a'b|\\|!x|%d|sub|tick|é|\n"),
                "{shell}"
            );
            assert_eq!(String::from_utf8(out.stderr).unwrap(), "line2\n");
        }
    }

    #[test]
    fn terminals_need_a_size_and_a_plain_type() {
        let ok = Command::new(["bash"]).tty(Tty::new(80, 24).term("screen-256color"));
        assert_eq!(ok.checked_tty().unwrap().map(|t| t.cols), Some(80));
        assert_eq!(Command::new(["bash"]).checked_tty().unwrap(), None);
        for bad in [Tty::new(0, 24), Tty::new(80, 0)] {
            let err = Command::new(["bash"]).tty(bad).checked_tty().unwrap_err();
            assert!(err.to_string().contains("one column and one row"), "{err}");
        }
        for term in ["", "xterm 256", "a=b", "x;rm", "é"] {
            let cmd = Command::new(["bash"]).tty(Tty::new(80, 24).term(term));
            let err = cmd.checked_tty().unwrap_err().to_string();
            assert!(err.contains("terminal type"), "{term:?}: {err}");
        }
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
