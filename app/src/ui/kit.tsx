/**
 * The app's few building blocks: a card, a key/value list, a table, a button that shows it is busy, and
 * labelled inputs. Styling lives in ../style.css.
 */
import type { ComponentChildren } from "preact";

export function Card(props: {
  title: string;
  id?: string;
  children: ComponentChildren;
  actions?: ComponentChildren;
}) {
  return (
    <section class="card" id={props.id} data-testid={props.id}>
      <header>
        <h2>{props.title}</h2>
        {props.actions}
      </header>
      {props.children}
    </section>
  );
}

export function Pairs(props: { rows: [string, ComponentChildren][]; testid?: string }) {
  return (
    <dl class="pairs" data-testid={props.testid}>
      {props.rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

export function Table(props: {
  headers: string[];
  rows: ComponentChildren[][];
  empty?: string;
  testid?: string;
}) {
  if (props.rows.length === 0) return <p class="muted">{props.empty ?? "Nothing yet."}</p>;
  return (
    <table data-testid={props.testid}>
      <thead>
        <tr>
          {props.headers.map((h) => (
            <th key={h}>{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.rows.map((r, i) => (
          <tr key={i}>
            {r.map((c, j) => (
              <td key={j}>{c}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Button(props: {
  onClick: () => void;
  busy?: boolean;
  disabled?: boolean;
  kind?: "primary" | "plain" | "danger";
  testid?: string;
  children: ComponentChildren;
}) {
  return (
    <button
      class={props.kind ?? "primary"}
      disabled={props.disabled || props.busy}
      onClick={props.onClick}
      data-testid={props.testid}
    >
      {props.busy ? "Waiting…" : props.children}
    </button>
  );
}

export function Field(props: {
  label: string;
  value: string;
  onInput: (value: string) => void;
  placeholder?: string;
  suffix?: string;
  testid?: string;
}) {
  return (
    <label class="field">
      <span>{props.label}</span>
      <span class="input">
        <input
          value={props.value}
          placeholder={props.placeholder}
          onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
          data-testid={props.testid}
        />
        {props.suffix && <em>{props.suffix}</em>}
      </span>
    </label>
  );
}

export function Select(props: {
  label: string;
  value: string;
  options: [string, string][];
  onChange: (value: string) => void;
  testid?: string;
}) {
  return (
    <label class="field">
      <span>{props.label}</span>
      <select
        value={props.value}
        onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}
        data-testid={props.testid}
      >
        {props.options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}

/** A value that is good, bad or neutral (colour only; the text says it too). */
export function Tone(props: { tone: "good" | "bad" | "warn" | "none"; children: ComponentChildren }) {
  return <span class={`tone-${props.tone}`}>{props.children}</span>;
}
