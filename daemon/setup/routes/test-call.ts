/** The page's test call: start one, follow it, stop it. */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { need } from '../http.js';
import { TEST_CALL_SECONDS, type TestCall } from '../test-call.js';

const TestCallBody = Type.Object(
  { seconds: Type.Integer({ minimum: TEST_CALL_SECONDS.min, maximum: TEST_CALL_SECONDS.max, default: TEST_CALL_SECONDS.default }) },
  { additionalProperties: false },
);

export function testCallRoutes(api: FastifyInstance, testCall: TestCall | undefined): void {
  const calls = () => need(testCall, 'a test call (this box makes no calls)');
  api.get('/api/test-call', async () => calls().current);
  api.post<{ Body: Static<typeof TestCallBody> }>('/api/test-call', { schema: { body: TestCallBody } }, async (request) => calls().start(request.body.seconds));
  api.post('/api/test-call/stop', async () => {
    await calls().stop();
    return calls().current;
  });
}
