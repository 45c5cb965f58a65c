// Bad user input to the trainer (data file, config, checkpoint): the CLI prints the message as one line and exits 2.
namespace Wafer.Gpt;

public sealed class GptInputException(string message) : Exception(message);
