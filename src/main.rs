//! The `redistill` daemon: parse flags, load the configuration, start the
//! network threads and the expiry sweep, and run until SIGTERM, SIGINT or
//! SHUTDOWN; SIGHUP reloads the settings that can change live.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redistill::cli::{self, CliAction};
use redistill::server::Server;
use redistill::{config, http, log, log_error, log_info, log_warn, maintenance, net, systemd};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(CliAction::Run(args)) => args,
        Ok(CliAction::Help) => {
            println!("{}", cli::usage());
            return ExitCode::SUCCESS;
        }
        Ok(CliAction::Version) => {
            println!("redistill {}", cli::VERSION);
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("redistill: {message}\n\n{}", cli::usage());
            return ExitCode::from(2);
        }
    };
    let loaded = match config::load(&args) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("redistill: configuration error: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(message) = loaded.config.protected_mode_violation() {
        eprintln!("redistill: {message}");
        return ExitCode::from(1);
    }
    log::set_level(loaded.config.server.log_level);
    match run(loaded) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            log_error!("{message}");
            ExitCode::from(1)
        }
    }
}

fn run(loaded: config::Loaded) -> Result<(), String> {
    let source = loaded.source.as_ref().map_or_else(|| "built-in defaults".to_string(), |p| p.display().to_string());
    let server = Arc::new(Server::new(loaded.config));
    redistill::clock::calibrate_command_clock();
    if let Some(path) = loaded.source {
        server.set_config_path(path);
    }
    let mut signals =
        Signals::new([SIGTERM, SIGINT, SIGHUP]).map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let network = net::start(&server)
        .map_err(|e| format!("cannot listen on {}:{}: {e}", server.config.server.bind, server.config.server.port))?;
    // The baseline is taken before the maintenance thread starts: measured
    // against a zero baseline, the idle footprint alone could look like a
    // small max_memory being exceeded, and refuse the first writes.
    server.mark_startup_memory();
    let maintenance =
        maintenance::spawn(Arc::clone(&server)).map_err(|e| format!("cannot start the maintenance thread: {e}"))?;
    let http = http::start(&server).map_err(|e| {
        format!(
            "cannot listen on {}:{} (health_check_port): {e}",
            server.config.server.bind, server.config.server.health_check_port
        )
    })?;
    log_startup(&server, &source);
    if let Some(http) = &http {
        log_info!("health and metrics on http://{}/health and /metrics", http.local_addr());
    }
    // Only now, with every listener bound, is the server ready for systemd.
    systemd::ready(&format!("Accepting connections on {}:{}", server.config.server.bind, server.port()));

    // Shutdown starts with SIGTERM/SIGINT here or with SHUTDOWN on a worker,
    // which only sets the server's shutting-down flag. Rather than have the
    // worker wake this thread (by signalling its own process, or through a
    // channel), this loop looks at the pending signals and at that flag
    // every 50 ms: nothing to get wrong, and the delay is nothing next to
    // the drain it starts. The workers and the acceptor watch the flag too.
    while !server.is_shutting_down() {
        for signal in signals.pending() {
            if signal == SIGHUP {
                log_info!("received SIGHUP, reloading {source}");
                server.reload_config();
            } else {
                log_info!("received {}, shutting down", signal_name(signal));
                server.begin_shutdown();
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    systemd::stopping("Shutting down");
    server.begin_shutdown();
    watch_shutdown(signals, Duration::from_secs(server.config.server.shutdown_timeout));
    network.wake_all();
    for thread in network.threads {
        let _ = thread.join();
    }
    // Stopped after the workers have drained, so /health reports 503
    // throughout the shutdown rather than going silent at its start.
    if let Some(http) = http {
        http.stop();
    }
    let _ = maintenance.join();
    log_info!("bye");
    Ok(())
}

/// While the workers drain: a second SIGTERM or SIGINT ends the process at
/// once with status 1 (an impatient operator, or a service manager that
/// escalates), as does a drain that overruns `shutdown_timeout` by more
/// than a small margin (the workers close their clients at the timeout, so
/// this is only a backstop against a stuck thread).
fn watch_shutdown(mut signals: Signals, timeout: Duration) {
    let deadline = Instant::now() + timeout + Duration::from_secs(2);
    let watcher = move || loop {
        for signal in signals.pending() {
            if signal != SIGHUP {
                log_warn!("received {} during shutdown, exiting immediately", signal_name(signal));
                std::process::exit(1);
            }
        }
        if Instant::now() >= deadline {
            log_error!("shutdown did not finish within shutdown_timeout ({}s), exiting", timeout.as_secs());
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if let Err(e) = std::thread::Builder::new().name("shutdown-watch".into()).spawn(watcher) {
        log_warn!("cannot watch for a second signal during shutdown: {e}");
    }
}

fn signal_name(signal: i32) -> String {
    match signal {
        SIGTERM => "SIGTERM".into(),
        SIGINT => "SIGINT".into(),
        SIGHUP => "SIGHUP".into(),
        other => format!("signal {other}"),
    }
}

fn log_startup(server: &Server, source: &str) {
    let c = &server.config;
    log_info!("redistill {} starting (config: {source})", cli::VERSION);
    if c.security.tls_enabled {
        log_info!("TLS on {}:{} (client certificates: {})", c.server.bind, server.tls_port(), client_certs(c));
    }
    log_info!(
        "listening on {}:{} with {} worker threads, {} shards per database, {} databases",
        c.server.bind,
        server.port(),
        c.server.worker_threads(),
        server.store.db(0).shard_count(),
        server.store.databases()
    );
    let max_memory = if c.memory.max_memory == 0 { "unlimited".to_string() } else { c.memory.max_memory.to_string() };
    log_info!(
        "max_memory {max_memory}, eviction policy {}, auth {}",
        c.memory.eviction_policy.as_str(),
        if c.security.password.is_some() { "required" } else { "off" }
    );
    log_info!("ready to accept connections");
}

fn client_certs(c: &config::Config) -> &'static str {
    match (&c.security.tls_ca_file, c.security.tls_auth_clients) {
        (None, _) => "not requested",
        (Some(_), true) => "required",
        (Some(_), false) => "optional",
    }
}
