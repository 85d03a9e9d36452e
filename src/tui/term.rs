//! Terminal set-up and teardown. `Screen` owns raw mode, the alternate
//! screen and the hidden cursor, and gives them back when dropped, however
//! the TUI ends; a panic hook gives them back before the panic message is
//! printed, so the message lands on a usable terminal.

use crossterm::{cursor, execute, terminal};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::{self, Stdout};
use std::sync::Once;

pub type Backend = CrosstermBackend<Stdout>;

/// The terminal in TUI mode; dropping it restores the terminal.
pub struct Screen {
    pub terminal: Terminal<Backend>,
}

impl Screen {
    pub fn enter() -> io::Result<Screen> {
        install_panic_hook();
        terminal::enable_raw_mode()?;
        // No `Screen` exists yet to undo raw mode on failure: do it here.
        let mut stdout = io::stdout();
        if let Err(e) = execute!(stdout, terminal::EnterAlternateScreen, cursor::Hide) {
            let _ = restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(mut terminal) => {
                let _ = terminal.clear();
                Ok(Screen { terminal })
            }
            Err(e) => {
                let _ = restore();
                Err(e)
            }
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = restore();
    }
}

/// Leaves raw mode and the alternate screen and shows the cursor. Safe to
/// call more than once.
pub fn restore() -> io::Result<()> {
    let raw = terminal::disable_raw_mode();
    execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show)?;
    raw
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = restore();
            previous(info);
        }));
    });
}
