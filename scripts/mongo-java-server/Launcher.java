// Serves mongo-java-server (de.bwaldvogel) on a TCP port as a stand-alone process, so the
// services and tests can use it like any MongoDB server at mongodb://HOST:PORT.
//
//   java -cp "LIBS/*:CLASSES" Launcher [--host 127.0.0.1] [--port 27017]
//        [--backend memory|h2] [--h2-file PATH] [--h2-fsync] [--h2-retention-ms 1000] [--io-threads 64]
//        [--version 4.4.0] [--wire-version 9]
//
// The H2 backend keeps what it acknowledged: mongo-java-server never commits the H2 store
// after a write (H2 stores changes from a background thread about once a second), so a
// SIGKILL lost the writes of the last second that clients had been told were done. Here the
// store is committed after every command that may write, before the reply goes out
// (DurableH2Backend): the write is then in the operating system's hands and survives the
// process being killed. With --h2-fsync it is also forced to the disk (an OS crash or power
// loss). Commits are shared (group commit): a writer that finds a commit under way waits for
// the next one, which takes every write made meanwhile, so many connections writing at once
// pay for one commit; the server runs enough I/O threads (--io-threads, default 64) for many
// connections to wait at once.
//
// The reported version matters: the Rust mongodb 3.x driver refuses servers whose
// maxWireVersion is below 9 (MongoDB 4.4), and the library's own ServerVersion constants
// stop at wire version 8. The library uses the version only in hello/buildInfo replies, so
// reporting 4.4 changes what the driver believes, not what the server does.
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

import org.h2.mvstore.MVStore;

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import io.netty.channel.Channel;

public final class Launcher {

    /** Commits (and with fsync forces) the H2 store after every command that may write, before its reply is sent. */
    static final class DurableH2Backend extends H2Backend {
        /** Commands that never write; everything else (aggregate too: $out, $merge) is followed by a commit. */
        private static final Set<String> READ_ONLY = Set.of(
            "find", "getmore", "count", "distinct", "killcursors", "listcollections", "listindexes",
            "listdatabases", "hello", "ismaster", "ping", "buildinfo", "whatsmyuri", "serverstatus",
            "dbstats", "collstats", "endsessions", "getparameter", "getlasterror", "connectionstatus");
        private final MVStore store;
        private final boolean fsync;

        DurableH2Backend(MVStore store, boolean fsync) {
            super(store);
            this.store = store;
            this.fsync = fsync;
        }

        @Override
        public Document handleCommand(Channel channel, String database, String command, Document query) {
            try {
                return super.handleCommand(channel, database, command, query);
            } finally {
                // Also after an error: a batch that failed half-way wrote its first documents.
                if (!READ_ONLY.contains(command.toLowerCase(Locale.ROOT))) {
                    persist();
                }
            }
        }

        /** Guards the group commit's counters. */
        private final Object commits = new Object();
        /** Writes that asked for a commit so far (each takes the next number after its write). */
        private long asked;
        /** Every write numbered up to this one is committed. */
        private long done;
        /** A commit is under way. */
        private boolean committing;

        /**
         * Returns once a commit that began after this caller's write has finished: this caller
         * runs it when none is under way (for every write made so far), else it waits for the
         * one under way and then the next, which one of the waiters runs.
         */
        private void persist() {
            long ticket;
            synchronized (commits) {
                ticket = ++asked;
            }
            while (true) {
                long covers;
                synchronized (commits) {
                    while (committing && done < ticket) {
                        try {
                            commits.wait();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new IllegalStateException("interrupted while waiting for a commit", e);
                        }
                    }
                    if (done >= ticket) {
                        return;
                    }
                    committing = true;
                    covers = asked;
                }
                // Only a commit that finished covers anyone: if it fails, the next waiter tries
                // again, and this caller's command fails rather than be acknowledged.
                boolean committed = false;
                try {
                    commitStore();
                    committed = true;
                } finally {
                    synchronized (commits) {
                        committing = false;
                        if (committed) {
                            done = Math.max(done, covers);
                        }
                        commits.notifyAll();
                    }
                }
            }
        }

        private void commitStore() {
            if (store.isClosed()) {
                return; // the shutdown hook closed it
            }
            // Writes the changes (a synchronous chunk write, into the OS page cache)...
            store.commit();
            // ...and waits for any chunk the background writer had queued before this one.
            store.executeFilestoreOperation(() -> { });
            if (fsync) {
                store.sync();
            }
        }
    }

    private record ReportedVersion(List<Integer> versionArray, int wireVersion) implements MongoVersion {
        @Override
        public List<Integer> getVersionArray() {
            return versionArray;
        }

        @Override
        public int getWireVersion() {
            return wireVersion;
        }
    }

    public static void main(String[] args) throws Exception {
        String host = "127.0.0.1";
        int port = 27017;
        String backendName = "memory";
        String h2File = null;
        boolean h2Fsync = false;
        int ioThreads = 64;
        // H2 keeps chunks it no longer needs this long before it writes over them (its default
        // is 45 s): with a commit per write that let the file grow by about 70 MB for every
        // 8,000 updates, and every commit slowed as it grew (a soak at 100 purchases/s: 2 GB
        // in 10 minutes, p99 86 -> 466 ms). A second keeps it flat; a process that is killed
        // loses nothing by it, and a machine that loses power is what --h2-fsync is for.
        int h2RetentionMs = 1000;
        String version = "4.4.0";
        int wireVersion = 9;

        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--host" -> { host = value; i++; }
                case "--port" -> { port = Integer.parseInt(value); i++; }
                case "--backend" -> { backendName = value; i++; }
                case "--h2-file" -> { h2File = value; i++; }
                case "--h2-fsync" -> h2Fsync = true;
                case "--io-threads" -> { ioThreads = Integer.parseInt(value); i++; }
                case "--h2-retention-ms" -> { h2RetentionMs = Integer.parseInt(value); i++; }
                case "--version" -> { version = value; i++; }
                case "--wire-version" -> { wireVersion = Integer.parseInt(value); i++; }
                default -> {
                    System.err.println("unknown argument: " + args[i]);
                    System.exit(2);
                }
            }
        }

        MongoBackend backend = switch (backendName) {
            case "memory" -> new MemoryBackend();
            case "h2" -> {
                if (h2File == null) {
                    System.err.println("--backend h2 needs --h2-file PATH");
                    System.exit(2);
                }
                // The default background writer stays (it also compacts the file).
                MVStore store = new MVStore.Builder().fileName(h2File).open();
                store.setRetentionTime(h2RetentionMs);
                yield new DurableH2Backend(store, h2Fsync);
            }
            default -> throw new IllegalArgumentException("unknown backend: " + backendName);
        };

        List<Integer> versionArray = new ArrayList<>();
        for (String part : version.split("\\.")) {
            versionArray.add(Integer.parseInt(part));
        }
        backend.version(new ReportedVersion(List.copyOf(versionArray), wireVersion));

        MongoServer server = new MongoServer(backend);
        server.bind(new java.net.InetSocketAddress(host, port), 1, ioThreads);
        System.out.printf("mongo-java-server listening on %s:%d (backend %s, reports MongoDB %s, wire version %d)%n",
            host, port, backendName, version, wireVersion);

        // SIGTERM (infra.sh down, a test's kill) runs this: close clients and, for H2, flush the store.
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdownNow();
            stopped.countDown();
        }, "shutdown"));
        stopped.await();
    }
}
