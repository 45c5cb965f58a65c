// One reported statistic: name, unit, meaning, value (docs/design.md §3: the analytic model reports the same names).
namespace Wafer.Fabric.Stats;

public sealed record Stat(string Name, string Unit, string Meaning, double Value);
