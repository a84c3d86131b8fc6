/** Plain text table: left-aligned columns two spaces apart, no trailing spaces, no final newline. */
export function formatTable(header: string[], rows: string[][]): string {
  const lines = [header, ...rows];
  const widths = header.map((_, col) => Math.max(...lines.map((cells) => width(cells[col] ?? ''))));
  return lines
    .map((cells) =>
      widths
        .map((w, col) => pad(cells[col] ?? '', w))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Code points, so a ✓ or é counts as one column. */
function width(text: string): number {
  return [...text].length;
}

function pad(text: string, to: number): string {
  return text + ' '.repeat(to - width(text));
}
