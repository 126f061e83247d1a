// lang's languages and the user's preferred language, shared by the pages
// that show or change them (one cache entry each, so saving on one page
// updates the other).

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { newIdempotencyKey } from "../api/idempotency";
import { toRestError, unwrap } from "../api/rest";
import { useServices } from "../session-context";

const LANGUAGES = ["lang", "languages"] as const;
const PREFERENCE = ["lang", "preference"] as const;

export function useLanguages() {
  const { lang } = useServices();
  return useQuery({
    queryKey: LANGUAGES,
    queryFn: () => unwrap(lang.GET("/lang/v1/languages")),
    staleTime: 5 * 60_000,
  });
}

/** The saved language, or null when none was chosen (lang answers 404). */
export function usePreference() {
  const { lang } = useServices();
  return useQuery({
    queryKey: PREFERENCE,
    queryFn: async () => {
      const { data, error, response } = await lang.GET("/lang/v1/preferences/me");
      if (response.status === 404) return null;
      if (!data) throw toRestError(response, error);
      return data.language;
    },
  });
}

/** Saves the preferred language, each save with its own Idempotency-Key. */
export function useSavePreference() {
  const { lang } = useServices();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (v: { language: string; key?: string }) =>
      unwrap(
        lang.PUT("/lang/v1/preferences/me", {
          body: { language: v.language },
          params: { header: { "Idempotency-Key": v.key ?? newIdempotencyKey() } },
        }),
      ),
    onSuccess: (saved) => queryClient.setQueryData(PREFERENCE, saved.language),
  });
}

/** "French (Français)". */
export function languageName(l: { name: string; native_name: string }): string {
  return `${l.name} (${l.native_name})`;
}
