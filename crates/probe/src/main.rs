use std::process::ExitCode;

/// `probe <url> [timeout-secs]`: exit 0 on a 2xx answer, 1 otherwise, 2 on bad usage.
fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(url), timeout, None) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: probe <http://host:port/path> [timeout-secs]");
        return ExitCode::from(2);
    };
    let timeout = match timeout.map(|t| t.parse::<u64>()) {
        None => probe::DEFAULT_TIMEOUT,
        Some(Ok(secs)) if secs > 0 => std::time::Duration::from_secs(secs),
        Some(_) => {
            eprintln!("probe: the timeout is a whole number of seconds, at least 1");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("probe: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(probe::probe(&url, timeout)) {
        Ok(status) => {
            println!("{url}: {status}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("probe: {failure}");
            ExitCode::FAILURE
        }
    }
}
