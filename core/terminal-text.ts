/**
 * Text that came from a host (file names, lines, values, agent messages, error text) made safe for a terminal:
 * every C0 control character, DEL and every C1 control character (U+0080–U+009F: U+009B is a one-byte CSI on some
 * terminals) is shown as an escape (`\x1b`), so a host cannot clear the screen, move the cursor or rewrite a
 * plan the user is asked to approve. `\n` is kept where the caller says the text is multi-line; tabs are shown as
 * `\t` too (a tab in a value is worth seeing). Backslashes are left as they are: the escapes are for reading, not
 * for parsing back.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g;
// eslint-disable-next-line no-control-regex
const CONTROL_AND_NEWLINE = /[\u0000-\u001f\u007f-\u009f]/g;

function escapeControl(c: string): string {
  if (c === '\t') return '\\t';
  if (c === '\r') return '\\r';
  if (c === '\n') return '\\n';
  return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/** Multi-line text: newlines kept, every other control character escaped. */
export function terminalSafe(text: string): string {
  return text.replace(CONTROL, escapeControl);
}

/** One line: newlines escaped too. */
export function terminalSafeLine(text: string): string {
  return text.replace(CONTROL_AND_NEWLINE, escapeControl);
}
