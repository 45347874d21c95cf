#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init("receipt-service");
    let config = receipt_service::Config::from_env()?;
    receipt_service::build(config)
        .await?
        .run_until_stopped()
        .await?;
    Ok(())
}
