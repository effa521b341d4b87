/**
 * The hall's camera, microphone and speaker from the page: a camera preview (a JPEG the page
 * asks for about once a second; the TV shows the picture too, for framing), the microphone's
 * level, a short recording played back through the hall's speaker, and the test tone.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DcError } from '../../errors.js';
import type { MediaControl } from '../../media/ipc.js';

/** What the page uses of the media engine. */
export type SetupMedia = Pick<MediaControl, 'playTestTone' | 'preview' | 'snapshot' | 'microphoneLevel' | 'recordMicrophone' | 'playRecording'>;

/** Each preview request keeps the camera open this long: the page renews it while shown. */
const PREVIEW_SECONDS = 20;

const ToneBody = Type.Object({ seconds: Type.Integer({ minimum: 1, maximum: 10, default: 3 }) }, { additionalProperties: false });
const RecordBody = Type.Object({ seconds: Type.Integer({ minimum: 1, maximum: 10, default: 5 }) }, { additionalProperties: false });

export function mediaRoutes(api: FastifyInstance, media: () => SetupMedia | undefined): void {
  const running = () => {
    const m = media();
    if (!m) throw new DcError('DC_MEDIA_NOT_RUNNING', 'the camera and sound are starting or restarting: try again in a few seconds');
    return m;
  };
  api.post<{ Body: Static<typeof ToneBody> }>('/api/test-tone', { schema: { body: ToneBody } }, async (request) => {
    await running().playTestTone(request.body.seconds);
    return { playing: true, seconds: request.body.seconds };
  });
  // Opens the camera and the microphone for a while (renewed by each call): preview and meter.
  api.post('/api/preview', async () => {
    await running().preview(PREVIEW_SECONDS);
    return { seconds: PREVIEW_SECONDS };
  });
  api.get('/api/camera.jpg', async (_request, reply) => {
    const jpeg = await running().snapshot('camera', { maxWidth: 640 });
    return reply.type('image/jpeg').header('cache-control', 'no-store').send(jpeg);
  });
  api.get('/api/microphone', async () => ({ level: await running().microphoneLevel() }));
  api.post<{ Body: Static<typeof RecordBody> }>('/api/recording', { schema: { body: RecordBody } }, async (request) => running().recordMicrophone(request.body.seconds));
  api.post('/api/recording/play', async () => {
    await running().playRecording();
    return { playing: true };
  });
}
