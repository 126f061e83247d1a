use platform::Env;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = web::Config::from_env(&Env::process())?;
    let _telemetry = platform::telemetry::init(
        &config.common.service,
        config.common.log_format,
        config.common.otlp_endpoint.as_deref(),
    )?;
    web::build(config).await?.run_until(platform::shutdown::signal()).await
}
