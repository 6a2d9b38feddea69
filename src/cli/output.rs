//! Standard output for the client subcommands, as Unix tools treat it: when the reader goes away
//! (`tributary consume ... | head`), the command ends quietly with status 0 instead of a panic or
//! an error message.

use std::io::{ErrorKind, Write};

/// Prints one line to standard output; a closed pipe ends the process quietly with status 0.
macro_rules! outln {
    () => { $crate::cli::output::line(format_args!("")) };
    ($($arg:tt)*) => { $crate::cli::output::line(format_args!($($arg)*)) };
}
pub(crate) use outln;

/// Writes `args` and a newline to standard output (see [`outln!`]).
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{args}").and_then(|()| out.flush()) {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// Whether an error is, at its root, a write to a pipe whose reader has gone: the normal end of
/// `tributary consume ... | head`, not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == ErrorKind::BrokenPipe)
    })
}
