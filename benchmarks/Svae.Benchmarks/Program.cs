namespace Svae.Benchmarks;

/// <summary>A benchmark that can be run from the command line: <c>dotnet run -c Release --project benchmarks/Svae.Benchmarks -- NAME [args]</c>.</summary>
internal interface IBenchmark
{
    /// <summary>The name given on the command line.</summary>
    string Name { get; }

    /// <summary>One line describing what it measures and its arguments.</summary>
    string Usage { get; }

    /// <summary>Runs it, printing results to standard output; returns the process exit code.</summary>
    int Run(string[] args);
}

internal static class Program
{
    private static int Main(string[] args)
    {
        var benchmarks = typeof(Program).Assembly.GetTypes()
            .Where(t => typeof(IBenchmark).IsAssignableFrom(t) && !t.IsAbstract && !t.IsInterface)
            .Select(t => (IBenchmark)Activator.CreateInstance(t)!)
            .OrderBy(b => b.Name)
            .ToList();
        var chosen = args.Length > 0 ? benchmarks.FirstOrDefault(b => b.Name == args[0]) : null;
        if (chosen is null)
        {
            Console.Error.WriteLine("usage: Svae.Benchmarks NAME [args]");
            foreach (var b in benchmarks)
                Console.Error.WriteLine($"  {b.Name,-12} {b.Usage}");
            return 2;
        }
        return chosen.Run(args[1..]);
    }
}
