/**
 * The transport lines of one m-section as a browser writes them (ICE credentials and a DTLS
 * fingerprint that need not be real: SDPs built with them test parsing and answering, not
 * connecting).
 */
export function browserTransportLines(direction: 'sendrecv' | 'sendonly' | 'recvonly', mid?: string): string[] {
  return [
    'c=IN IP4 0.0.0.0',
    'a=ice-ufrag:EsAw',
    'a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y',
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 D7:87:2E:29:05:9E:1E:9F:6E:A3:12:AD:53:07:A0:5A:F1:2A:B5:D2:0F:6B:B5:1B:35:3F:F5:AE:39:16:20:8D',
    'a=setup:actpass',
    ...(mid === undefined ? [] : [`a=mid:${mid}`]),
    'a=rtcp-mux',
    'a=rtcp-rsize',
    `a=${direction}`,
  ];
}

/** The session lines before the m-sections, as a browser writes them, bundling mids 0 and 1. */
export function browserSessionLines(): string[] {
  return ['v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1'];
}
