#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init("gateway");
    let config = server::Config::from_env()?;
    server::build(config).await?.run_until_stopped().await?;
    Ok(())
}
