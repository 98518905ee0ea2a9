import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../src/backends/bus/group-commit.ts';

/** A publish as the buses queue it: a name, and how it was answered. */
interface Publish {
  name: string;
  reject(error: unknown): void;
  failure?: unknown;
}

function publish(name: string): Publish {
  const waiting: Publish = { name, reject: (error) => (waiting.failure = error) };
  return waiting;
}

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A group commit whose writes record the groups they were given; the first write waits for `first`. */
function recordingCommit() {
  const groups: string[][] = [];
  const first = deferred();
  const commits = new GroupCommit<Publish>(async (group) => {
    groups.push(group.map((waiting) => waiting.name));
    if (groups.length === 1) await first.promise;
  });
  return { commits, groups, first };
}

describe('group commit', () => {
  it('writes the first publish at once and groups those that arrive while it is in flight', async () => {
    const { commits, groups, first } = recordingCommit();
    commits.add(publish('a'));
    commits.add(publish('b'));
    commits.add(publish('c'));
    first.resolve();
    await commits.idle();
    expect(groups).toEqual([['a'], ['b', 'c']]);
  });

  it('lets a publish be withdrawn until its group is taken', async () => {
    const { commits, groups, first } = recordingCommit();
    const a = publish('a');
    const b = publish('b');
    commits.add(a);
    commits.add(b);
    commits.add(publish('c'));
    expect(commits.withdraw(a)).toBe(false); // already being written
    expect(commits.withdraw(b)).toBe(true);
    first.resolve();
    await commits.idle();
    expect(groups).toEqual([['a'], ['c']]);
  });

  it('rejects every publish of a group whose write throws, and goes on with the next group', async () => {
    const first = deferred();
    const written: string[] = [];
    const commits = new GroupCommit<Publish>(async (group) => {
      if (group[0]?.name === 'a') {
        await first.promise;
        throw new Error('disk full');
      }
      written.push(...group.map((waiting) => waiting.name));
    });
    const a = publish('a');
    const b = publish('b');
    commits.add(a);
    commits.add(b);
    first.resolve();
    await commits.idle();
    expect(a.failure).toBeInstanceOf(Error);
    expect(b.failure).toBeUndefined();
    expect(written).toEqual(['b']);
  });
});
