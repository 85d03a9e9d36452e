//! JUnit XML, the format CI systems read: suites of cases, some failed.
//! Every text and attribute is escaped for control characters here (XML 1.0
//! cannot carry most of them at all), then for XML by the writer.

use crate::protocol::escape::{escape_line, escape_text};
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

pub struct Suite {
    pub name: String,
    pub time_s: f64,
    pub cases: Vec<Case>,
}

pub struct Case {
    pub name: String,
    pub classname: String,
    /// Why it failed; None for a pass.
    pub failure: Option<String>,
    /// Why it was not judged (a metric not measured).
    pub skipped: Option<String>,
    /// What was measured, shown by CI systems beside the case.
    pub output: String,
}

pub fn render(suites: &[Suite]) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing to a Vec cannot fail.
    let _ = write(&mut w, suites);
    let mut text = String::from_utf8_lossy(&w.into_inner()).into_owned();
    text.push('\n');
    text
}

fn write(w: &mut Writer<Vec<u8>>, suites: &[Suite]) -> std::io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let count = |f: fn(&Case) -> bool| -> String {
        suites
            .iter()
            .flat_map(|s| &s.cases)
            .filter(|c| f(c))
            .count()
            .to_string()
    };
    let tests = count(|_| true);
    let failures = count(|c| c.failure.is_some());
    let skipped = count(|c| c.skipped.is_some());
    w.create_element("testsuites")
        .with_attribute(("name", "mcptop"))
        .with_attribute(("tests", tests.as_str()))
        .with_attribute(("failures", failures.as_str()))
        .with_attribute(("skipped", skipped.as_str()))
        .write_inner_content(|w| {
            for s in suites {
                write_suite(w, s)?;
            }
            Ok(())
        })?;
    Ok(())
}

fn write_suite(w: &mut Writer<Vec<u8>>, s: &Suite) -> std::io::Result<()> {
    let tests = s.cases.len().to_string();
    let failures = s
        .cases
        .iter()
        .filter(|c| c.failure.is_some())
        .count()
        .to_string();
    let skipped = s
        .cases
        .iter()
        .filter(|c| c.skipped.is_some())
        .count()
        .to_string();
    let time = format!("{:.3}", s.time_s);
    w.create_element("testsuite")
        .with_attribute(("name", s.name.as_str()))
        .with_attribute(("tests", tests.as_str()))
        .with_attribute(("failures", failures.as_str()))
        .with_attribute(("skipped", skipped.as_str()))
        .with_attribute(("time", time.as_str()))
        .write_inner_content(|w| {
            for c in &s.cases {
                w.create_element("testcase")
                    .with_attribute(("name", escape_line(&c.name).as_ref()))
                    .with_attribute(("classname", escape_line(&c.classname).as_ref()))
                    .write_inner_content(|w| {
                        if let Some(f) = &c.failure {
                            w.create_element("failure")
                                .with_attribute(("message", escape_line(f).as_ref()))
                                .write_text_content(BytesText::new(&escape_text(f)))?;
                        }
                        if let Some(reason) = &c.skipped {
                            w.create_element("skipped")
                                .with_attribute(("message", escape_line(reason).as_ref()))
                                .write_empty()?;
                        }
                        if !c.output.is_empty() {
                            w.create_element("system-out")
                                .write_text_content(BytesText::new(&escape_text(&c.output)))?;
                        }
                        Ok(())
                    })?;
            }
            Ok(())
        })?;
    Ok(())
}
