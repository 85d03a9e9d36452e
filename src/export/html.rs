//! placeholder
pub fn run_page(_r: &crate::report::RunReport) -> Result<String, String> {
    Ok(String::new())
}
