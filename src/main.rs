//! The `redistill` daemon: parse flags, load the configuration, start the
//! network threads and the expiry sweep, and run until SIGTERM or SIGINT.

use std::process::ExitCode;
use std::sync::Arc;

use redistill::cli::{self, CliAction};
use redistill::server::Server;
use redistill::{config, http, log, log_error, log_info, maintenance, net, systemd};
use signal_hook::consts::{SIGINT, SIGTERM};
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
    let mut signals = Signals::new([SIGTERM, SIGINT]).map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let network = net::start(&server)
        .map_err(|e| format!("cannot listen on {}:{}: {e}", server.config.server.bind, server.config.server.port))?;
    let maintenance =
        maintenance::spawn(Arc::clone(&server)).map_err(|e| format!("cannot start the maintenance thread: {e}"))?;
    server.mark_startup_memory();
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

    if let Some(signal) = signals.forever().next() {
        log_info!("received signal {signal}, shutting down");
    }
    systemd::stopping("Shutting down");
    server.begin_shutdown();
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
        c.server.shard_count(),
        c.server.databases
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
