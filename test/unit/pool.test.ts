import assert from 'node:assert/strict';
import { DEFAULT_CONCURRENCY, mapLimit } from '../../core/pool.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pool: mapLimit', () => {
  it('returns results in input order even when later items finish first', async () => {
    const items = Array.from({ length: 30 }, (_, i) => i);
    const out = await mapLimit(items, 7, async (n, i) => {
      await sleep((30 - n) % 7); // later items often finish earlier
      return `${i}:${n * 2}`;
    });
    assert.deepEqual(out, items.map((n) => `${n}:${n * 2}`));
  });

  it('never has more than `limit` calls in flight, and does reach the limit', async () => {
    let inFlight = 0;
    let peak = 0;
    await mapLimit(Array.from({ length: 50 }, (_, i) => i), 5, async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await sleep(2);
      inFlight--;
    });
    assert.equal(peak, 5);
  });

  it('a limit above the item count starts every item at once', async () => {
    let started = 0;
    const gate = mapLimit([1, 2, 3], 64, async () => {
      started++;
      await sleep(5);
    });
    await sleep(1);
    assert.equal(started, 3);
    await gate;
  });

  it('an empty list gives an empty result without calling fn', async () => {
    assert.deepEqual(await mapLimit([], 4, async () => assert.fail('called')), []);
  });

  it('the first rejection rejects the call and no new items start after it', async () => {
    const started: number[] = [];
    await assert.rejects(
      mapLimit(Array.from({ length: 20 }, (_, i) => i), 2, async (n) => {
        started.push(n);
        await sleep(1);
        if (n === 3) throw new Error('item 3 failed');
        return n;
      }),
      /item 3 failed/,
    );
    await sleep(20);
    assert.ok(Math.max(...started) <= 4, `started ${started.join(',')}`);
  });

  it('rejects a limit that is not a positive integer', async () => {
    await assert.rejects(mapLimit([1], 0, async (x) => x), /limit must be an integer >= 1/);
    await assert.rejects(mapLimit([1], 1.5, async (x) => x), RangeError);
  });

  it('defaults to 64 hosts at once', () => {
    assert.equal(DEFAULT_CONCURRENCY, 64);
  });
});
