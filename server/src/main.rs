/// Rendering a page makes and frees many small allocations; glibc's allocator spent about a
/// third of the gateway's time on them under load. The services' allocator, for the same reason.
#[global_allocator]
static ALLOCATOR: common::serve::Allocator = common::serve::Allocator;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init(server::SERVICE);
    let config = server::Config::from_env()?;
    server::build(config).await?.run_until_stopped().await?;
    Ok(())
}
