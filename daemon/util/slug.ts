/**
 * Text as a DNS-style label: Vietnamese letters folded to ASCII ("Thôn Đông" → thon-dong),
 * anything else a hyphen, lower case, no hyphen at either end, at most `max` characters.
 */
export function asciiSlug(text: string, max = 63): string {
  return (
    text
      // Đ is no accented D to Unicode (no decomposition), nor is the look-alike Ð some keyboards give.
      .replace(/[đĐÐ]/g, 'd')
      .normalize('NFD')
      .replace(/\p{M}/gu, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, max)
      .replace(/-+$/, '')
  );
}
