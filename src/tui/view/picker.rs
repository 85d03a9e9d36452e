//! The workload picker screen: the catalog, the target field, the keys, and
//! a line about the last run or the last problem.

use crate::tui::panes::{block, dim};
use crate::tui::state::picker::PickerModel;
use crate::workload::catalog::Origin;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

pub const TITLE: &str = " mcptop: choose a workload ";
/// The target field's title: every kind of target `TargetSpec` reads,
/// longest first, the first that fits the width.
const TARGET_TITLES: [&str; 3] = [
    " target: builtin, stdio:COMMAND ARGS, http(s)://HOST:PORT/PATH, ws(s)://HOST:PORT/PATH, tcp://HOST:PORT, sse://... ",
    " target: builtin, stdio:CMD ARGS, http(s)://, ws(s)://, tcp://, sse:// ",
    " target: builtin stdio: http(s):// ws(s):// tcp:// sse:// ",
];

pub fn picker(f: &mut Frame, p: &PickerModel) {
    let area = f.area();
    let [list_area, target_area, message_area, keys_area] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(3),
        Constraint::Length(if p.message.is_some() { 2 } else { 0 }),
        Constraint::Length(1),
    ])
    .areas(area);
    let name_w = p.entries.iter().map(|e| e.name.len()).max().unwrap_or(0);
    let items: Vec<ListItem> = p
        .entries
        .iter()
        .map(|e| {
            let origin = match &e.origin {
                Origin::Shipped => String::new(),
                Origin::File(path) => format!(" ({})", path.display()),
            };
            ListItem::new(Line::from(vec![
                Span::styled(
                    format!("{:<name_w$}  ", e.name),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(e.description.clone()),
                Span::styled(origin, dim()),
            ]))
        })
        .collect();
    let list_style = if p.editing {
        dim()
    } else {
        Style::default().fg(Color::Black).bg(Color::Cyan)
    };
    let list = List::new(items)
        .block(block(TITLE))
        .highlight_style(list_style)
        .highlight_symbol("> ");
    let mut state = ListState::default().with_selected(Some(p.selected));
    f.render_stateful_widget(list, list_area, &mut state);
    let field_style = if p.editing {
        Style::default().fg(Color::Yellow)
    } else {
        Style::default()
    };
    let cursor = if p.editing { "_" } else { "" };
    f.render_widget(
        Paragraph::new(Span::styled(format!("{}{cursor}", p.target), field_style))
            .block(block(target_title(target_area.width))),
        target_area,
    );
    if let Some(message) = &p.message {
        f.render_widget(
            Paragraph::new(Span::styled(
                message.clone(),
                Style::default().fg(Color::Yellow),
            ))
            .wrap(Wrap { trim: true }),
            message_area,
        );
    }
    let keys = if p.editing {
        "type the target  enter run  tab/esc back to the list  ctrl-c quit"
    } else {
        "up/down choose  enter run  tab edit the target  q quit"
    };
    f.render_widget(Paragraph::new(Span::styled(keys, dim())), keys_area);
}

fn target_title(width: u16) -> &'static str {
    let room = usize::from(width.saturating_sub(2));
    TARGET_TITLES
        .iter()
        .find(|t| t.chars().count() <= room)
        .unwrap_or(&TARGET_TITLES[TARGET_TITLES.len() - 1])
}
