//! Command-line flags.
//!
//! The server only takes a handful of flags, so they are parsed by hand
//! instead of pulling in an argument-parsing crate. This module only turns
//! `argv` into a [`CliAction`]; merging the flags with the config file and
//! the environment is the job of [`crate::config`].

use std::path::PathBuf;

/// The crate version, printed by `--version` and reported by `INFO`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the process should do after parsing its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliAction {
    /// Start the server with these overrides.
    Run(CliArgs),
    /// Print [`usage`] and exit successfully.
    Help,
    /// Print [`VERSION`] and exit successfully.
    Version,
}

/// Settings given on the command line. `None` means "not given", so the
/// value from the environment, the config file or the default applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CliArgs {
    /// `--config PATH`: the TOML file to load.
    pub config: Option<PathBuf>,
    /// `--port N`: TCP port to listen on.
    pub port: Option<u16>,
    /// `--bind ADDR`: IP address to listen on.
    pub bind: Option<String>,
    /// `--threads N`: number of worker threads (0 = one per CPU).
    pub threads: Option<usize>,
    /// `--cluster-enabled yes|no`: cluster mode.
    pub cluster_enabled: Option<bool>,
    /// `--cluster-node-id ID`: this node's id in the slot map.
    pub cluster_node_id: Option<String>,
    /// `--cluster-announce-ip IP`: the address other nodes' clients reach it at.
    pub cluster_announce_ip: Option<String>,
    /// `--cluster-announce-port N`: the port likewise.
    pub cluster_announce_port: Option<u16>,
}

/// Parses the process arguments, *excluding* `argv[0]`.
///
/// Accepts both `--flag value` and `--flag=value`. A repeated flag keeps
/// its last value, as most Unix tools do. `--help` and `--version` stop
/// parsing as soon as they are seen. Errors name the offending flag so the
/// message can be shown to the user as is.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<CliAction, String> {
    let mut parsed = CliArgs::default();
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let (flag, inline) = split_flag(&arg);
        match flag {
            "-h" | "--help" => return no_value(flag, inline).map(|()| CliAction::Help),
            "-V" | "--version" => return no_value(flag, inline).map(|()| CliAction::Version),
            "--config"
            | "--port"
            | "--bind"
            | "--threads"
            | "--cluster-enabled"
            | "--cluster-node-id"
            | "--cluster-announce-ip"
            | "--cluster-announce-port" => {
                let value = take_value(flag, inline, &mut args)?;
                apply(&mut parsed, flag, &value)?;
            }
            _ if flag.starts_with('-') => return Err(format!("unknown option '{flag}'")),
            _ => return Err(format!("unexpected argument '{arg}'")),
        }
    }
    Ok(CliAction::Run(parsed))
}

/// Splits `--flag=value` into the flag and its inline value. Only long
/// options may carry an inline value; anything else is returned whole.
fn split_flag(arg: &str) -> (&str, Option<&str>) {
    match arg.split_once('=') {
        Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
        _ => (arg, None),
    }
}

/// Rejects `--help=x` and friends: a switch with a value is a typo.
fn no_value(flag: &str, inline: Option<&str>) -> Result<(), String> {
    match inline {
        Some(_) => Err(format!("option {flag} does not take a value")),
        None => Ok(()),
    }
}

/// Returns the value of a flag, either inline (`--port=1`) or the next
/// argument (`--port 1`). A following argument that looks like another long
/// flag is treated as missing, because `--config --port 1` is far more
/// likely a forgotten value than a file literally named `--port`.
fn take_value<I: Iterator<Item = String>>(
    flag: &str,
    inline: Option<&str>,
    rest: &mut std::iter::Peekable<I>,
) -> Result<String, String> {
    let value = match inline {
        Some(value) => Some(value.to_string()),
        None => rest.next_if(|next| !next.starts_with("--")),
    };
    match value {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(format!("missing value for {flag}")),
    }
}

/// Stores one flag's value, converting it to the field's type.
fn apply(args: &mut CliArgs, flag: &str, value: &str) -> Result<(), String> {
    let invalid = || format!("invalid value '{value}' for {flag}");
    match flag {
        "--config" => args.config = Some(PathBuf::from(value)),
        "--port" => args.port = Some(value.parse().map_err(|_| invalid())?),
        "--bind" => args.bind = Some(value.to_string()),
        "--threads" => args.threads = Some(value.parse().map_err(|_| invalid())?),
        "--cluster-enabled" => args.cluster_enabled = Some(crate::config::parse_bool(value).ok_or_else(invalid)?),
        "--cluster-node-id" => args.cluster_node_id = Some(value.to_string()),
        "--cluster-announce-ip" => args.cluster_announce_ip = Some(value.to_string()),
        "--cluster-announce-port" => args.cluster_announce_port = Some(value.parse().map_err(|_| invalid())?),
        _ => return Err(format!("unknown option '{flag}'")),
    }
    Ok(())
}

/// The `--help` text: every flag and every environment variable the
/// server reads, plus the order in which they win.
pub fn usage() -> String {
    format!(
        "\
redistill {VERSION} - a Redis-compatible in-memory cache server

USAGE:
    redistill [OPTIONS]

OPTIONS:
    --config PATH    Load settings from this TOML file
                     (default: $REDISTILL_CONFIG, else ./redistill.toml if present)
    --port N         TCP port to listen on (default 6379)
    --bind ADDR      IP address to listen on (default 127.0.0.1)
    --threads N      Worker threads; 0 means one per CPU (default 0)
    --cluster-enabled yes|no     Redis Cluster mode ([cluster] enabled)
    --cluster-node-id ID         This node's id in the slot map (40 hex digits)
    --cluster-announce-ip IP     Address this node is reached at
    --cluster-announce-port N    Port this node is reached at
    -h, --help       Print this help and exit
    -V, --version    Print the version and exit

Flags also accept the form --flag=value.

ENVIRONMENT:
    REDISTILL_CONFIG   Config file to load when --config is not given
    REDIS_PASSWORD     Password clients must send with AUTH
    REDIS_MAX_MEMORY   Memory limit, in bytes or with a unit (e.g. 2gb, 512mb)
    REDIS_PORT         TCP port to listen on
    REDIS_BIND         IP address to listen on
    REDISTILL_THREADS  Number of worker threads
    REDISTILL_CLUSTER_ENABLED, REDISTILL_CLUSTER_NODE_ID,
    REDISTILL_CLUSTER_ANNOUNCE_IP, REDISTILL_CLUSTER_ANNOUNCE_PORT
                       The [cluster] settings of the same names
    Empty variables are ignored.

PRECEDENCE:
    command-line flag > environment variable > config file > built-in default
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<CliAction, String> {
        parse(args.iter().map(|s| s.to_string()))
    }

    fn run_args(args: &[&str]) -> CliArgs {
        match run(args) {
            Ok(CliAction::Run(parsed)) => parsed,
            other => panic!("expected Run, got {other:?}"),
        }
    }

    #[test]
    fn no_arguments_means_no_overrides() {
        assert_eq!(run_args(&[]), CliArgs::default());
    }

    #[test]
    fn parses_every_flag_with_separate_values() {
        let parsed = run_args(&["--config", "/etc/r.toml", "--port", "7000", "--bind", "0.0.0.0", "--threads", "4"]);
        assert_eq!(
            parsed,
            CliArgs {
                config: Some(PathBuf::from("/etc/r.toml")),
                port: Some(7000),
                bind: Some("0.0.0.0".into()),
                threads: Some(4),
                ..CliArgs::default()
            }
        );
    }

    #[test]
    fn parses_every_flag_with_inline_values() {
        let parsed = run_args(&["--config=a=b.toml", "--port=1", "--bind=::1", "--threads=0"]);
        assert_eq!(parsed.config, Some(PathBuf::from("a=b.toml")));
        assert_eq!(parsed.port, Some(1));
        assert_eq!(parsed.bind.as_deref(), Some("::1"));
        assert_eq!(parsed.threads, Some(0));
    }

    #[test]
    fn cluster_flags() {
        let id = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca";
        let parsed = run_args(&[
            "--cluster-enabled",
            "yes",
            "--cluster-node-id",
            id,
            "--cluster-announce-ip=10.0.0.2",
            "--cluster-announce-port",
            "7002",
        ]);
        assert_eq!(parsed.cluster_enabled, Some(true));
        assert_eq!(parsed.cluster_node_id.as_deref(), Some(id));
        assert_eq!(parsed.cluster_announce_ip.as_deref(), Some("10.0.0.2"));
        assert_eq!(parsed.cluster_announce_port, Some(7002));
        assert_eq!(run_args(&["--cluster-enabled=no"]).cluster_enabled, Some(false));
        assert_eq!(run(&["--cluster-enabled", "maybe"]), Err("invalid value 'maybe' for --cluster-enabled".into()));
    }

    #[test]
    fn last_occurrence_wins() {
        assert_eq!(run_args(&["--port", "1", "--port=2"]).port, Some(2));
    }

    #[test]
    fn help_and_version() {
        assert_eq!(run(&["--help"]), Ok(CliAction::Help));
        assert_eq!(run(&["-h"]), Ok(CliAction::Help));
        assert_eq!(run(&["--version"]), Ok(CliAction::Version));
        assert_eq!(run(&["-V"]), Ok(CliAction::Version));
        assert_eq!(run(&["--port", "1", "--help", "--bogus"]), Ok(CliAction::Help));
        assert_eq!(run(&["--help=yes"]), Err("option --help does not take a value".into()));
    }

    #[test]
    fn invalid_values_name_the_flag() {
        assert_eq!(run(&["--port", "abc"]), Err("invalid value 'abc' for --port".into()));
        assert_eq!(run(&["--port=70000"]), Err("invalid value '70000' for --port".into()));
        assert_eq!(run(&["--threads", "-1"]), Err("invalid value '-1' for --threads".into()));
    }

    #[test]
    fn missing_values_name_the_flag() {
        assert_eq!(run(&["--port"]), Err("missing value for --port".into()));
        assert_eq!(run(&["--port="]), Err("missing value for --port".into()));
        assert_eq!(run(&["--config", "--port", "1"]), Err("missing value for --config".into()));
    }

    #[test]
    fn unknown_options_and_stray_arguments_are_rejected() {
        assert_eq!(run(&["--foo"]), Err("unknown option '--foo'".into()));
        assert_eq!(run(&["--foo=1"]), Err("unknown option '--foo'".into()));
        assert_eq!(run(&["-x"]), Err("unknown option '-x'".into()));
        assert_eq!(run(&["redis.conf"]), Err("unexpected argument 'redis.conf'".into()));
    }

    #[test]
    fn usage_mentions_every_flag_and_variable() {
        let text = usage();
        for needle in [
            "--config",
            "--port",
            "--bind",
            "--threads",
            "--help",
            "--version",
            "REDISTILL_CONFIG",
            "REDIS_PASSWORD",
            "REDIS_MAX_MEMORY",
            "REDIS_PORT",
            "REDIS_BIND",
            "REDISTILL_THREADS",
            "--cluster-enabled",
            "--cluster-node-id",
            "--cluster-announce-ip",
            "--cluster-announce-port",
            "REDISTILL_CLUSTER_ENABLED",
            "REDISTILL_CLUSTER_NODE_ID",
            "REDISTILL_CLUSTER_ANNOUNCE_IP",
            "REDISTILL_CLUSTER_ANNOUNCE_PORT",
        ] {
            assert!(text.contains(needle), "usage lacks {needle}");
        }
    }

    #[test]
    fn version_matches_the_crate() {
        assert_eq!(VERSION, env!("CARGO_PKG_VERSION"));
        assert!(!VERSION.is_empty());
    }
}
