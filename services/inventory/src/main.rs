#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init("inventory-service");
    let config = inventory_service::Config::from_env()?;
    inventory_service::build(config)
        .await?
        .run_until_stopped()
        .await?;
    Ok(())
}
