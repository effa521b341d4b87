import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaError } from '../errors.js';
import { SCREEN_LAYERS, type ScreenArt } from './types.js';
import type { ScreenLayerFile } from './pipelines.js';

/**
 * The worker's SVG files for gdkpixbufoverlay, which reads pictures from files: one per screen
 * layer and one for the slate, rewritten in place when they change, in a private temporary
 * folder removed when the engine stops. A playout or slate that restarts reads the current ones.
 */
export class ScreenFiles {
  private dir: string | null = null;

  /** Writes the art's layers; returns one entry per overlay element (null: nothing to draw). */
  writeArt(art: ScreenArt): Array<ScreenLayerFile | null> {
    if (art.layers.length > SCREEN_LAYERS) {
      throw new MediaError('DC_MEDIA_BAD_REQUEST', `a screen has at most ${SCREEN_LAYERS} layers, got ${art.layers.length}`);
    }
    return Array.from({ length: SCREEN_LAYERS }, (_, i) => {
      const layer = art.layers[i];
      if (!layer) return null;
      return { path: this.write(`screen-${i}.svg`, layer.svg), x: Math.round(layer.x), y: Math.round(layer.y) };
    });
  }

  write(name: string, svg: string): string {
    this.dir ??= mkdtempSync(join(tmpdir(), 'diemcau-screen-'));
    const path = join(this.dir, name);
    writeFileSync(path, svg);
    return path;
  }

  remove(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}
