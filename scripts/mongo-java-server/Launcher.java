// Serves mongo-java-server (de.bwaldvogel) on a TCP port as a stand-alone process, so the
// services and tests can use it like any MongoDB server at mongodb://HOST:PORT.
//
//   java -cp "LIBS/*:CLASSES" Launcher [--host 127.0.0.1] [--port 27017]
//        [--backend memory|h2] [--h2-file PATH] [--version 4.4.0] [--wire-version 9]
//
// The reported version matters: the Rust mongodb 3.x driver refuses servers whose
// maxWireVersion is below 9 (MongoDB 4.4), and the library's own ServerVersion constants
// stop at wire version 8. The library uses the version only in hello/buildInfo replies, so
// reporting 4.4 changes what the driver believes, not what the server does.
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

public final class Launcher {

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
        String version = "4.4.0";
        int wireVersion = 9;

        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--host" -> { host = value; i++; }
                case "--port" -> { port = Integer.parseInt(value); i++; }
                case "--backend" -> { backendName = value; i++; }
                case "--h2-file" -> { h2File = value; i++; }
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
                yield new H2Backend(h2File);
            }
            default -> throw new IllegalArgumentException("unknown backend: " + backendName);
        };

        List<Integer> versionArray = new ArrayList<>();
        for (String part : version.split("\\.")) {
            versionArray.add(Integer.parseInt(part));
        }
        backend.version(new ReportedVersion(List.copyOf(versionArray), wireVersion));

        MongoServer server = new MongoServer(backend);
        server.bind(host, port);
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
