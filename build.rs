//! Compiles the Slint screens in `ui/`. Element ids are kept (debug info) so the
//! headless UI tests can find elements by id.
fn main() {
    let config = slint_build::CompilerConfiguration::new().with_debug_info(true);
    slint_build::compile_with_config("ui/app.slint", config).expect("ui/app.slint compiles");
}
