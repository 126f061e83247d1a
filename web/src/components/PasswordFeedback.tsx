// Live feedback on a new password: each of auth's rules, met or not, in
// words (not colour alone).

import type { Strength } from "../auth/password";

export function PasswordFeedback({ id, strength, touched }: { id: string; strength: Strength; touched: boolean }) {
  return (
    <div id={id} className="password-feedback">
      <p className="hint">
        {!touched ? "Your password needs:" : strength.ok ? "Strong enough: it meets every rule." : "Your password needs:"}
      </p>
      <ul className="rules">
        {strength.rules.map((rule) => {
          const met = touched && rule.met;
          return (
            <li key={rule.id} className={met ? "rule met" : "rule"} data-rule={rule.id}>
              <span aria-hidden="true" className="mark">
                {met ? "✓" : "•"}
              </span>
              <span className="visually-hidden">{met ? "Met: " : "Not yet met: "}</span>
              {rule.label}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
