/**
 * ICE parts of SDP as fragments (RFC 8840): what an ICE restart sends and gets back when the
 * far end is a WHIP/WHEP server (PATCH), and how the server's fragment becomes a full answer.
 */
import { DcError } from '../errors.js';

/**
 * The ICE part of a local SDP as a fragment for PATCH (RFC 8840): the first media section's line
 * and mid (the transport is bundled), its credentials and every candidate.
 */
export function iceFragmentOf(sdp: string): string {
  const lines = sdp.split(/\r?\n/);
  const first = lines.findIndex((l) => l.startsWith('m='));
  const pick = (prefix: string) => lines.find((l, i) => i > first && l.startsWith(prefix));
  const media = lines[first];
  const mid = pick('a=mid:');
  const ufrag = pick('a=ice-ufrag:') ?? lines.find((l) => l.startsWith('a=ice-ufrag:'));
  const pwd = pick('a=ice-pwd:') ?? lines.find((l) => l.startsWith('a=ice-pwd:'));
  if (!media || !mid || !ufrag || !pwd) throw new DcError('DC_RTC_BAD_SDP', 'the local description has no ICE credentials to send');
  const candidates = [...new Set(lines.filter((l) => l.startsWith('a=candidate:')))];
  return [media, mid, ufrag, pwd, ...candidates, 'a=end-of-candidates', ''].join('\r\n');
}

/**
 * `sdp` with the ICE credentials and candidates of an SDP fragment (RFC 8840) in place of its
 * own: the fragment's ufrag and pwd replace every section's, and its candidates (all on the one
 * bundled transport) go into the first section.
 */
export function withIceFragment(sdp: string, fragment: string): string {
  const ufrag = /^a=ice-ufrag:(\S+)/m.exec(fragment)?.[1];
  const pwd = /^a=ice-pwd:(\S+)/m.exec(fragment)?.[1];
  if (!ufrag || !pwd) throw new DcError('DC_RTC_BAD_SDP', 'the ICE restart answer has no ice-ufrag and ice-pwd');
  const candidates = fragment.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:') || l === 'a=end-of-candidates');
  const out: string[] = [];
  for (const line of sdp.split(/\r?\n/)) {
    if (line === '') continue;
    if (line.startsWith('a=candidate:') || line === 'a=end-of-candidates') continue;
    if (line.startsWith('a=ice-ufrag:')) out.push(`a=ice-ufrag:${ufrag}`);
    else if (line.startsWith('a=ice-pwd:')) out.push(`a=ice-pwd:${pwd}`);
    else out.push(line);
  }
  // Candidates go at the end of the first media section.
  const second = out.findIndex((l, i) => l.startsWith('m=') && out.slice(0, i).some((x) => x.startsWith('m=')));
  out.splice(second === -1 ? out.length : second, 0, ...candidates);
  return `${out.join('\r\n')}\r\n`;
}
