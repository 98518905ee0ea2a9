import { parse, type ExecutionArgs, type ExecutionResult, buildSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { Channel, type ChannelOptions } from '../subscriptions/channel.ts';
import { createSharedSubscribe } from '../subscriptions/shared-subscribe.ts';

describe('Channel', () => {
  it('hands pushed items to waiting and later next() calls in order, then ends after the buffer', async () => {
    const channel = new Channel<number>({ capacity: 10 });
    const first = channel.next();
    const second = channel.next();
    channel.push(1);
    channel.push(2);
    channel.push(3);
    channel.push(4);
    channel.end();
    expect(await first).toEqual({ value: 1, done: false });
    expect(await second).toEqual({ value: 2, done: false });
    expect(await channel.next()).toEqual({ value: 3, done: false });
    expect(await channel.next()).toEqual({ value: 4, done: false });
    expect(await channel.next()).toEqual({ value: undefined, done: true });
  });

  it('fails a consumer past its capacity with the overflow error, after what it buffered', async () => {
    const channel = new Channel<number>({ capacity: 2, overflowError: () => new Error('too slow') });
    for (const item of [1, 2, 3]) channel.push(item);
    expect(channel.closed).toBe(true);
    expect(await channel.next()).toEqual({ value: 1, done: false });
    expect(await channel.next()).toEqual({ value: 2, done: false });
    await expect(channel.next()).rejects.toThrow('too slow');
    expect(await channel.next()).toEqual({ value: undefined, done: true });
  });

  it('rejects every waiting next() when failed, and resolves them done when ended', async () => {
    const failing = new Channel<number>({ capacity: 1 });
    const waiting = [failing.next(), failing.next()];
    failing.fail(new Error('gone'));
    for (const pending of waiting) await expect(pending).rejects.toThrow('gone');
    const ending = new Channel<number>({ capacity: 1 });
    const pending = [ending.next(), ending.next()];
    await ending.return();
    expect(await Promise.all(pending)).toEqual([
      { value: undefined, done: true },
      { value: undefined, done: true },
    ]);
  });

  it('tells one shared options object which channel closed, once', () => {
    const closed: Channel<number>[] = [];
    const options: ChannelOptions<number> = { capacity: 1, onClose: (channel) => closed.push(channel) };
    const a = new Channel(options);
    const b = new Channel(options);
    void b.return();
    a.fail(new Error('x'));
    a.end();
    expect(closed).toEqual([b, a]);
  });
});

describe('createSharedSubscribe', () => {
  const schema = buildSchema('type Query { a: Int } type Subscription { ticks: Int }');
  const document = parse('subscription { ticks }');
  const args = (): ExecutionArgs => ({ schema, document, contextValue: {} });

  it('runs one upstream for identical subscriptions, hands each result to every member, and closes it when the last leaves', async () => {
    const upstream = new Channel<ExecutionResult>({ capacity: 10 });
    let executions = 0;
    const shared = createSharedSubscribe({
      personalArguments: [],
      subscribe: async () => {
        executions += 1;
        return upstream;
      },
    });
    const one = (await shared.subscribe(args())) as AsyncIterableIterator<ExecutionResult>;
    const two = (await shared.subscribe(args())) as AsyncIterableIterator<ExecutionResult>;
    expect(executions).toBe(1);
    expect(shared.groups).toBe(1);
    upstream.push({ data: { ticks: 1 } });
    expect(await one.next()).toEqual({ value: { data: { ticks: 1 } }, done: false });
    expect(await two.next()).toEqual({ value: { data: { ticks: 1 } }, done: false });
    await one.return?.();
    expect(upstream.closed).toBe(false);
    await two.return?.();
    expect(upstream.closed).toBe(true);
    expect(shared.groups).toBe(0);
  });
});
