/**
 * A value quoted for an error message as JSON, cut to `max` characters: names and values read from
 * a file can be megabytes long, a message line stays short.
 */
export function quoted(value: unknown, max = 48): string {
    if (typeof value === "string") {
        return value.length <= max
            ? JSON.stringify(value)
            : `${JSON.stringify(value.slice(0, max))}... (${value.length} characters)`;
    }
    let text: string;
    try {
        text = String(JSON.stringify(value) ?? value);
    } catch {
        text = String(value);
    }
    return text.length <= max ? text : `${text.slice(0, max)}...`;
}
