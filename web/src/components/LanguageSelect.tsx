// A labelled picker over lang's languages, shown as "French (Français)".

import { useId } from "react";
import { languageName } from "../lang/queries";

interface Language {
  code: string;
  name: string;
  native_name: string;
}

export function LanguageSelect({
  label,
  languages,
  value,
  onChange,
  none,
}: {
  label: string;
  languages: Language[];
  value: string;
  onChange: (code: string) => void;
  /** An option for no choice at all (value ""), with this text. */
  none?: string;
}) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        {none !== undefined && <option value="">{none}</option>}
        {languages.map((l) => (
          <option key={l.code} value={l.code}>
            {languageName(l)}
          </option>
        ))}
      </select>
    </div>
  );
}
