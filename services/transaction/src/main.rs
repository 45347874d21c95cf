#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init("transaction-service");
    let config = transaction_service::Config::from_env()?;
    transaction_service::build(config)
        .await?
        .run_until_stopped()
        .await?;
    Ok(())
}
