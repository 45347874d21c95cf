#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init("user-service");
    let config = user_service::Config::from_env()?;
    user_service::build(config)
        .await?
        .run_until_stopped()
        .await?;
    Ok(())
}
