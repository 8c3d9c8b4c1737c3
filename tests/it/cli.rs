//! Redistill's own command line, config file and environment variables.
//! Every test here is skipped in differential mode.

use crate::common::*;
use std::time::Duration;

const QUICK: Duration = Duration::from_secs(10);

/// Run Redistill with `toml` as its config and the usual test flags; it is
/// expected to exit on its own.
fn run_with_config(toml: &str) -> RunOutput {
    let dir = TempDir::new("cli");
    let config = dir.write("bad.toml", toml);
    let port = free_port().to_string();
    let config = config.to_str().expect("utf-8 temp path");
    run_redistill(&["--config", config, "--port", &port, "--bind", "127.0.0.1", "--threads", "2"], &[], QUICK)
}

/// Assert a config error: exit status 1, stderr naming `needle`.
fn assert_config_error(out: &RunOutput, needle: &str) {
    assert!(out.status.is_some(), "server did not exit on a bad config; stderr:\n{}", out.stderr);
    assert_eq!(out.code(), Some(1), "exit status for a bad config; stderr:\n{}", out.stderr);
    assert!(out.stderr.contains(needle), "stderr should name {needle:?}:\n{}", out.stderr);
}

#[test]
fn version_flag() {
    if redistill_only() {
        return;
    }
    let out = run_redistill(&["--version"], &[], QUICK);
    assert_eq!(out.code(), Some(0), "--version exit status; stderr:\n{}", out.stderr);
    assert!(
        out.stdout.contains(env!("CARGO_PKG_VERSION")),
        "--version should print {}, printed:\n{}",
        env!("CARGO_PKG_VERSION"),
        out.stdout
    );
}

#[test]
fn version_flag_does_not_start_a_server() {
    if redistill_only() {
        return;
    }
    // With a port that would otherwise be served: nothing may listen there.
    let port = free_port();
    let out = run_redistill(&["--version", "--port", &port.to_string()], &[], QUICK);
    assert_eq!(out.code(), Some(0), "stderr:\n{}", out.stderr);
    assert!(!port_accepts(port), "something listens on {port} after --version");
}

#[test]
fn help_flag() {
    if redistill_only() {
        return;
    }
    let out = run_redistill(&["--help"], &[], QUICK);
    assert_eq!(out.code(), Some(0), "--help exit status; stderr:\n{}", out.stderr);
    for flag in ["--config", "--port"] {
        assert!(out.stdout.contains(flag), "--help output should mention {flag}:\n{}", out.stdout);
    }
}

#[test]
fn unknown_flag_is_rejected() {
    if redistill_only() {
        return;
    }
    let out = run_redistill(&["--bogus-flag"], &[], QUICK);
    assert!(out.status.is_some(), "server did not exit on an unknown flag");
    assert_ne!(out.code(), Some(0), "unknown flag must fail; stderr:\n{}", out.stderr);
    assert!(out.stderr.contains("--bogus-flag"), "stderr should name the flag:\n{}", out.stderr);
}

#[test]
fn unknown_config_key_is_rejected() {
    if redistill_only() {
        return;
    }
    assert_config_error(&run_with_config("[server]\nnot_a_real_key = 1\n"), "not_a_real_key");
}

#[test]
fn unknown_config_section_is_rejected() {
    if redistill_only() {
        return;
    }
    assert_config_error(&run_with_config("[no_such_section]\nx = 1\n"), "no_such_section");
}

#[test]
fn out_of_range_port_is_rejected() {
    if redistill_only() {
        return;
    }
    assert_config_error(&run_with_config("[server]\nport = 70000\n"), "port");
}

#[test]
fn zero_shards_is_rejected() {
    if redistill_only() {
        return;
    }
    assert_config_error(&run_with_config("[server]\nnum_shards = 0\n"), "num_shards");
}

#[test]
fn malformed_toml_is_rejected() {
    if redistill_only() {
        return;
    }
    let out = run_with_config("[server\nport = \n");
    assert!(out.status.is_some(), "server did not exit on malformed TOML");
    assert_eq!(out.code(), Some(1), "stderr:\n{}", out.stderr);
}

#[test]
fn missing_config_file_is_rejected() {
    if redistill_only() {
        return;
    }
    let dir = TempDir::new("cli");
    let missing = dir.path().join("does-not-exist.toml");
    let missing = missing.to_str().expect("utf-8 temp path");
    let port = free_port().to_string();
    let out = run_redistill(&["--config", missing, "--port", &port], &[], QUICK);
    assert_config_error(&out, "does-not-exist.toml");
}

#[test]
fn config_file_sets_port_and_password() {
    if redistill_only() {
        return;
    }
    let port = free_port();
    let s = TestServer::launch(Launch {
        toml: format!("[server]\nport = {port}\n\n[security]\npassword = \"filepw\"\n"),
        port_flag: false,
        port: Some(port),
        ..Launch::default()
    });
    let mut c = s.raw();
    c.expect_cmd(&["PING"], "-NOAUTH Authentication required.\r\n");
    c.expect_cmd(&["AUTH", "filepw"], OK);
    c.expect_cmd(&["PING"], PONG);
}

#[test]
fn redis_port_env_is_honoured() {
    if redistill_only() {
        return;
    }
    let port = free_port();
    let s = TestServer::launch(Launch {
        env: vec![("REDIS_PORT".into(), port.to_string())],
        port_flag: false,
        port: Some(port),
        ..Launch::default()
    });
    s.raw().expect_cmd(&["PING"], PONG);
}

#[test]
fn redis_port_env_beats_config_file() {
    if redistill_only() {
        return;
    }
    let (file_port, env_port) = (free_port(), free_port());
    let s = TestServer::launch(Launch {
        toml: format!("[server]\nport = {file_port}\n"),
        env: vec![("REDIS_PORT".into(), env_port.to_string())],
        port_flag: false,
        port: Some(env_port),
        ..Launch::default()
    });
    s.raw().expect_cmd(&["PING"], PONG);
    assert!(!port_accepts(file_port), "config-file port {file_port} is served although REDIS_PORT is set");
}

#[test]
fn cli_port_beats_redis_port_env() {
    if redistill_only() {
        return;
    }
    let (env_port, cli_port) = (free_port(), free_port());
    let s = TestServer::launch(Launch {
        env: vec![("REDIS_PORT".into(), env_port.to_string())],
        port_flag: true,
        port: Some(cli_port),
        ..Launch::default()
    });
    assert_eq!(s.port(), cli_port);
    s.raw().expect_cmd(&["PING"], PONG);
    assert!(!port_accepts(env_port), "REDIS_PORT {env_port} is served although --port {cli_port} was given");
}

#[test]
fn redis_password_env_is_honoured() {
    if redistill_only() {
        return;
    }
    let s = TestServer::launch(Launch { env: vec![("REDIS_PASSWORD".into(), "envpw".into())], ..Launch::default() });
    let mut c = s.raw();
    c.expect_cmd(&["GET", "k"], "-NOAUTH Authentication required.\r\n");
    c.expect_cmd(&["AUTH", "wrong"], "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    c.expect_cmd(&["AUTH", "envpw"], OK);
    c.expect_cmd(&["GET", "k"], NIL);
}

#[test]
fn invalid_redis_port_env_is_rejected() {
    if redistill_only() {
        return;
    }
    let out = run_redistill(&["--bind", "127.0.0.1"], &[("REDIS_PORT", "99999")], QUICK);
    assert_config_error(&out, "REDIS_PORT");
}

#[test]
fn sigterm_shuts_down_cleanly() {
    if redistill_only() {
        return;
    }
    let mut s = TestServer::start();
    s.raw().expect_cmd(&["SET", "k", "v"], OK);
    let mut idle = s.raw();
    idle.expect_cmd(&["PING"], PONG);
    // Within the default shutdown_timeout (10 s); it takes milliseconds,
    // but on a loaded machine the process has been seen to take seconds to
    // disappear after its last log line.
    let status = s.terminate(Duration::from_secs(10));
    let status = status.unwrap_or_else(|| panic!("still running 10 s after SIGTERM; stderr:\n{}", s.stderr_so_far()));
    assert!(status.success(), "exit status after SIGTERM: {status}; stderr:\n{}", s.stderr_so_far());
    assert!(idle.is_closed(), "idle client connection still open after shutdown");
    assert!(!port_accepts(s.port()), "port still accepting after shutdown");
}
