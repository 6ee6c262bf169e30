#include "parser/catalog_pt_br.h"

#include <array>
#include <cstddef>

namespace wsi {
namespace {

// ---------------------------------------------------------------------------
// Close codes, in the order of close_codes.cpp. Keyed by first and last code:
// the range 3000-3999 and the registered 3000 share a first code. As in
// English, each description, "when" and fix starts with a sentence that can
// stand alone (explain quotes first sentences, cut at the first ". "), so no
// abbreviation such as "ex." may end a word before a space.

struct CloseCodePt {
  uint16_t first;
  uint16_t last;
  CloseCodeText text;
};

constexpr std::array kCloseCodesPt = std::to_array<CloseCodePt>({
    {0,
     999,
     {"Não utilizados",
      "Os códigos abaixo de 1000 não são usados pelo protocolo WebSocket. A RFC 6455 deixa essa "
      "faixa vazia e a IANA não registra nada nela, de modo que um quadro de fechamento com um "
      "desses códigos já é, por si só, uma violação do protocolo.",
      "Um quadro de fechamento com código abaixo de 1000 costuma vir de uma aplicação que passou "
      "para close() um status HTTP (400, 500) ou um número de erro interno, ou de um quadro de "
      "fechamento cujos dois bytes de código foram corrompidos no caminho. Algumas bibliotecas "
      "também informam 0 localmente quando não têm código nenhum.",
      "Mapeie as falhas da aplicação para um código de fechamento de verdade: 1008 ou 1011 para "
      "erros genéricos, ou um código próprio entre 4000 e 4999. Um receptor em conformidade "
      "responde a esse quadro com 1002, então espere que o outro lado registre um erro de "
      "protocolo. Se o remetente nunca escolheu esse código, examine os bytes do quadro de "
      "fechamento no log do wsinspect em busca de corrupção por um intermediário."}},
    {1000,
     1000,
     {"Fechamento normal",
      "A conexão cumpriu o papel para o qual foi aberta e está sendo fechada de propósito. É o "
      "fim comum e bem-sucedido de uma sessão WebSocket, e espera-se que a outra ponta responda "
      "com um quadro de fechamento próprio.",
      "Um usuário sai da conta ou deixa o elemento da página que mantinha a conexão, um cliente "
      "termina seu lote de requisições ou um servidor encerra um fluxo que não tem mais nada a "
      "enviar. Muitas bibliotecas enviam 1000 por padrão quando a aplicação chama close() sem "
      "código.",
      "Não há nada de errado. Se os fechamentos são inesperados, descubra qual lado enviou o "
      "primeiro quadro de fechamento (o wsinspect registra a direção) e procure, nessa "
      "aplicação, o trecho de código que chama close(). Se um timer da aplicação fecha as "
      "conexões ociosas com 1000, aumente esse tempo ou mantenha a conexão ativa com pings."}},
    {1001,
     1001,
     {"Saindo",
      "O endpoint está saindo: um servidor está sendo desligado ou um navegador está deixando a "
      "página que abriu a conexão. O fechamento é limpo, mas a sessão não vai continuar nesta "
      "conexão.",
      "Deploys graduais e reinícios que drenam as conexões, uma aba do navegador sendo fechada "
      "ou recarregada, ou um app móvel indo para segundo plano. Alguns proxies e balanceadores "
      "de carga enviam 1001 aos dois lados quando são desligados ou recarregam a configuração.",
      "Trate como algo esperado e reconecte, com um backoff aleatório, para que uma frota de "
      "clientes não volte toda no mesmo instante depois de um deploy. Se ele aparece com "
      "frequência sem deploy nenhum, descubra qual salto o envia (o wsinspect mostra a "
      "direção): um proxy recarregando, um autoscaler removendo instâncias ou um timeout de "
      "inatividade que escolheu 1001."}},
    {1002,
     1002,
     {"Erro de protocolo",
      "O endpoint recebeu dados que violam o próprio protocolo WebSocket e está abortando a "
      "conexão. O problema está no enquadramento, não nas mensagens da aplicação: um bit ou "
      "opcode reservado, uma máscara errada, uma sequência de fragmentos quebrada, um quadro de "
      "controle grande demais ou um quadro de fechamento inválido.",
      "Um cliente ou servidor escrito à mão erra o enquadramento, um endpoint liga o RSV1 por "
      "achar que a compressão foi negociada quando a outra ponta não concordou, ou um proxy, "
      "balanceador de carga ou outro middlebox corrompe, reenquadra ou trunca quadros no "
      "caminho. Um leitor que perde a sincronia com o fluxo depois de um campo de comprimento "
      "errado também informa 1002 no próximo cabeçalho que lê errado.",
      "O log de violações do wsinspect indica a regra violada, a direção (do cliente para o "
      "servidor ou do servidor para o cliente) e o offset em bytes, o que mostra qual lado "
      "produziu o quadro defeituoso. Capture dos dois lados de cada intermediário: se um quadro "
      "está correto ao sair do remetente e errado depois de um salto, é esse salto que corrompe "
      "quadros. Caso contrário, corrija o código de enquadramento do remetente e verifique se as "
      "duas pontas concordam sobre as extensões negociadas no handshake."}},
    {1003,
     1003,
     {"Dados não suportados",
      "O endpoint recebeu um tipo de mensagem que não consegue aceitar. O caso típico é uma "
      "mensagem binária numa conexão que só trata texto, ou o contrário.",
      "Um cliente envia quadros binários a um servidor que espera texto JSON, ou um servidor "
      "envia texto a um cliente que só decodifica binário. Também acontece quando um "
      "subprotocolo fixa um tipo de mensagem e a outra ponta usa o outro.",
      "Faça os dois lados concordarem sobre o tipo de mensagem: quadros de texto para conteúdo "
      "UTF-8, quadros binários para todo o resto, e o que o subprotocolo determinar. O opcode da "
      "última mensagem antes do fechamento, no log do wsinspect, mostra o que foi de fato "
      "enviado."}},
    {1004,
     1004,
     {"Reservado",
      "O código está reservado pela RFC 6455 para um significado que pode ser definido no "
      "futuro. Hoje ele não tem significado atribuído e não pode aparecer num quadro de "
      "fechamento.",
      "Só uma implementação com bug ou confusa o envia, ou então um quadro de fechamento foi "
      "corrompido no caminho. Um receptor que segue a RFC o trata como erro de protocolo.",
      "Não o envie: use 1000 para um fim normal, 1008 ou 1011 para falhas, ou um código de "
      "aplicação entre 4000 e 4999. Um receptor em conformidade responde com 1002 a um quadro "
      "de fechamento que traga 1004."}},
    {1005,
     1005,
     {"Nenhum status recebido",
      "O quadro de fechamento não trouxe código de status. O 1005 nunca trafega na rede: a "
      "pilha WebSocket o informa à sua aplicação quando chega um quadro de fechamento com o "
      "corpo vazio.",
      "Um endpoint chamou close() sem código, o que a maioria das bibliotecas permite, e por "
      "isso seu quadro de fechamento não tinha payload. O handshake de fechamento em si foi "
      "limpo: houve troca de quadros de fechamento, só que sem motivo informado.",
      "No nível do protocolo, não há nada quebrado. Se a aplicação precisa saber o motivo, faça "
      "o lado que fecha enviar um código (1000 para um fim normal) e, se for útil, um motivo "
      "curto. Nunca envie 1005 num quadro de fechamento: ali ele é inválido, e a outra ponta, "
      "se estiver em conformidade, responde com 1002."}},
    {1006,
     1006,
     {"Fechamento anormal",
      "A conexão terminou sem quadro de fechamento. O 1006 nunca trafega na rede: a pilha "
      "WebSocket o informa à sua aplicação quando a conexão TCP foi fechada ou caiu antes de "
      "chegar qualquer quadro de fechamento, de modo que a outra ponta não deu nem código de "
      "status nem motivo. A camada WebSocket não tem como saber a causa; quem explica é o que "
      "aconteceu no TCP.",
      "Um processo do servidor caiu ou foi morto, um proxy ou balanceador de carga atingiu seu "
      "timeout de inatividade ou a duração máxima de conexão e fechou o TCP, um NAT ou firewall "
      "descartou o fluxo, ou a rede ficou indisponível. Os navegadores também informam 1006 "
      "quando o handshake de abertura falha, porque um cliente que rejeita a resposta do "
      "servidor derruba o TCP sem quadro de fechamento.",
      "Descubra qual lado encerrou o TCP e como: o wsinspect registra um FIN ou um reset por "
      "direção, timeouts de inatividade, o seu próprio desligamento e os upstreams que não "
      "conseguiu alcançar. Se um intermediário fechou a conexão, aumente o timeout de "
      "inatividade dele ou envie pings com mais frequência do que pede o menor timeout do "
      "caminho. Se foi o servidor, procure nos logs dele um crash ou reinício. Os clientes "
      "devem reconectar com backoff exponencial aleatório."}},
    {1007,
     1007,
     {"Dados inválidos no payload do quadro",
      "O endpoint recebeu, dentro de uma mensagem, dados que não correspondem ao tipo dela. O "
      "caso comum é uma mensagem de texto que não é UTF-8 válido; algumas pilhas também usam "
      "este código para uma mensagem comprimida que não descomprime.",
      "Um remetente põe bytes brutos ou texto Latin-1 num quadro de texto, corta uma string no "
      "meio de um caractere multibyte ou envia um motivo de fechamento que não é UTF-8. A "
      "biblioteca `ws` do Node.js envia 1007 quando um payload permessage-deflate não pode ser "
      "descomprimido, enquanto o `websockets` do Python envia 1002.",
      "Envie bytes arbitrários como mensagens binárias e codifique o texto em UTF-8 antes de "
      "enquadrá-lo. Se a saída do remetente é válida, compare o payload dos dois lados de cada "
      "salto: um intermediário que transcodifica, apara ou refragmenta payloads pode quebrar o "
      "UTF-8, e um salto que altera os parâmetros do permessage-deflate quebra a descompressão. "
      "O log do wsinspect dá a direção, o quadro e o offset da mensagem que falhou."}},
    {1008,
     1008,
     {"Violação de política",
      "O endpoint recebeu uma mensagem que viola sua política e está fechando a conexão. É um "
      "código genérico de propósito, usado quando nada mais específico, como 1003 ou 1009, se "
      "aplica, ou quando o endpoint prefere não revelar qual regra foi violada.",
      "Um servidor rejeita um cliente que não passou na autorização, cujo token expirou, que "
      "excedeu um limite de taxa ou cuja mensagem foi reprovada na validação da aplicação ou "
      "numa verificação de origem. Gateways de API e firewalls de aplicação web também o usam "
      "para as mensagens que bloqueiam.",
      "A política é da aplicação, não do protocolo: leia o motivo do fechamento, se houver, e os "
      "logs do lado que enviou o fechamento (o wsinspect mostra a direção). Verifique a validade "
      "dos tokens, as taxas de mensagens e as regras de conteúdo ou de tamanho. Se quem fechou a "
      "conexão foi um gateway ou firewall, e não o servidor, revise as regras desse "
      "intermediário."}},
    {1009,
     1009,
     {"Mensagem grande demais",
      "O endpoint recebeu uma mensagem maior do que está disposto a processar. O limite é uma "
      "configuração do próprio receptor; com compressão, em geral vale para o tamanho depois da "
      "descompressão.",
      "Um cliente envia um arquivo ou documento como uma única mensagem, um servidor envia um "
      "snapshot grande ou uma mensagem comprimida cresce além do limite ao ser descomprimida. A "
      "biblioteca `ws` do Node.js também responde 1009 a um quadro cujo comprimento de 64 bits "
      "passa de 2^53 - 1.",
      "Aumente o tamanho máximo de mensagem do receptor (maxPayload no `ws`, max_size no "
      "`websockets` do Python, o limite de quadro ou de mensagem de um gateway) ou divida os "
      "dados em mensagens menores. Cada salto que interpreta quadros pode ter seu próprio "
      "limite, então olhe primeiro o do lado que enviou o fechamento."}},
    {1010,
     1010,
     {"Extensão obrigatória",
      "O cliente está fechando porque precisa de uma extensão que o servidor não aceitou na "
      "resposta do handshake. O motivo do fechamento deve citar as extensões que faltam; "
      "servidores nunca enviam este código, já que podem simplesmente recusar o handshake.",
      "Um cliente que exige permessage-deflate ou outra extensão se conecta a um servidor que "
      "não a oferece, ou a um servidor atrás de um proxy que removeu Sec-WebSocket-Extensions "
      "da requisição ou da resposta.",
      "Habilite a extensão no servidor ou torne-a opcional no cliente. Se o servidor a suporta, "
      "compare Sec-WebSocket-Extensions dos dois lados de cada intermediário: um proxy que "
      "remove ou reescreve o cabeçalho é uma causa frequente."}},
    {1011,
     1011,
     {"Erro interno",
      "O endpoint encontrou uma condição inesperada que o impediu de atender à requisição. É o "
      "equivalente WebSocket do HTTP 500, enviado principalmente por servidores.",
      "Uma exceção não tratada num handler de mensagens, uma chamada ao banco de dados ou a um "
      "backend que falhou, ou o esgotamento de recursos como memória ou descritores de arquivo. "
      "Alguns clientes também o enviam para falhas internas próprias.",
      "Procure nos logs do lado que enviou o fechamento (em geral o servidor), no momento do "
      "fechamento, a exceção ou a chamada que falhou. Os clientes devem tentar de novo com "
      "backoff; os servidores devem capturar os erros nos handlers e enviar um código mais "
      "específico quando houver um adequado."}},
    {1012,
     1012,
     {"Reinício do serviço",
      "O servidor está reiniciando e fecha a conexão por esse motivo. O cliente pode reconectar, "
      "mas deve esperar um pouco antes.",
      "Reinícios planejados, deploys e recargas de configuração do servidor ou de um gateway "
      "WebSocket à frente dele.",
      "Reconecte com um backoff aleatório (uma primeira espera de alguns segundos, que cresce a "
      "cada falha) para que os clientes não voltem todos de uma vez. Se os reinícios são "
      "frequentes, examine as configurações de deploy, de health check e de reinício após crash "
      "do servidor."}},
    {1013,
     1013,
     {"Tente novamente mais tarde",
      "O servidor não consegue atender a conexão agora, por estar sobrecarregado, por exemplo, e "
      "pede ao cliente que volte mais tarde. É uma condição temporária, não uma rejeição do "
      "cliente.",
      "Um servidor no limite de conexões ou descartando carga, um backend do qual ele depende "
      "temporariamente indisponível, ou um limitador de taxa num gateway.",
      "Tente de novo com backoff exponencial e jitter, nunca imediatamente: clientes que "
      "reconectam na mesma hora mantêm o servidor sobrecarregado. Do lado do servidor, "
      "verifique a capacidade, os limites de conexão e a saúde dos backends de que ele "
      "depende."}},
    {1014,
     1014,
     {"Gateway incorreto",
      "Um servidor que atua como gateway ou proxy recebeu uma resposta inválida do upstream de "
      "que precisava. É o equivalente WebSocket do HTTP 502.",
      "Um gateway WebSocket cujo upstream recusou ou estragou o handshake, fechou de forma "
      "inesperada ou enviou quadros que o gateway não pôde aceitar.",
      "Olhe atrás do gateway: os logs dele e a conexão dele com o upstream. Rodar o wsinspect "
      "entre o gateway e o upstream mostra se a culpa é do handshake ou dos quadros do "
      "upstream. Os clientes devem tentar de novo com backoff."}},
    {1015,
     1015,
     {"Handshake TLS",
      "Não foi possível estabelecer a conexão porque o handshake TLS falhou. O 1015 nunca "
      "trafega na rede: a pilha WebSocket o informa à sua aplicação, por exemplo quando o "
      "certificado do servidor não pôde ser verificado.",
      "Um certificado expirado, autoassinado ou emitido para outro host, um certificado "
      "intermediário faltando, nenhuma versão de TLS ou cifra em comum, ou um middlebox que "
      "intercepta o TLS com um certificado em que o cliente não confia.",
      "Verifique a cadeia de certificados e o nome que o servidor apresenta (`openssl s_client "
      "-connect HOST:443 -servername HOST`), as versões de TLS habilitadas nos dois lados e se "
      "um proxy corporativo intercepta o TLS. Nunca envie 1015 num quadro de fechamento."}},
    {1016,
     2999,
     {"Não atribuídos",
      "Os códigos de 1016 a 2999 são reservados ao protocolo WebSocket, às suas revisões futuras "
      "e a extensões publicadas como especificações abertas. Nenhum deles está atribuído hoje, "
      "então nenhum pode aparecer num quadro de fechamento.",
      "Um quadro de fechamento com um desses códigos vem de uma aplicação que escolheu um número "
      "arbitrário, de uma biblioteca que adotou um código só seu ou da corrupção dos dois bytes "
      "do código. Um receptor que segue a RFC aborta a conexão com 1002.",
      "Escolha um código entre 4000 e 4999 para motivos específicos da aplicação, ou registre um "
      "entre 3000 e 3999 para uma biblioteca. Se o remetente não escolheu o código, examine os "
      "bytes do quadro de fechamento no log do wsinspect em busca de corrupção por um "
      "intermediário."}},
    {3000,
     3999,
     {"Códigos de bibliotecas e frameworks",
      "Os códigos de 3000 a 3999 são registrados na IANA, por ordem de chegada, para "
      "bibliotecas, frameworks e aplicações. O protocolo não lhes dá significado próprio; cada "
      "registro define o seu, e eles podem aparecer em quadros de fechamento.",
      "Um framework ou plataforma sinaliza uma condição própria, como uma falha de autenticação "
      "ou um timeout. O registro de códigos de fechamento WebSocket da IANA e a documentação do "
      "software do lado que envia dizem o que cada código significa.",
      "Descubra qual biblioteca do lado que envia usa o código e leia a documentação dela; o "
      "motivo do fechamento costuma ajudar. O log do wsinspect mostra de que direção veio o "
      "quadro de fechamento, o que restringe o software que pode tê-lo escolhido."}},
    {3000,
     3000,
     {"Não autorizado",
      "O endpoint não está autorizado para esta conexão ou ação. É o equivalente WebSocket do "
      "HTTP 401, registrado para bibliotecas e aplicações, então seu uso exato depende do "
      "software que o envia.",
      "Um servidor fecha a conexão porque uma credencial enviada depois do handshake estava "
      "ausente, era inválida ou tinha expirado, ou porque um token de sessão expirou com a "
      "conexão aberta.",
      "Autentique-se de novo: obtenha um token novo e reconecte, enviando-o do jeito que o "
      "servidor espera (cabeçalho, parâmetro da query string ou primeira mensagem). Do lado do "
      "servidor, trate a expiração de tokens e a diferença entre relógios, e diga no motivo do "
      "fechamento o que faltou."}},
    {3003,
     3003,
     {"Proibido",
      "O endpoint está autenticado, mas não tem permissão para fazer o que pediu. É o "
      "equivalente WebSocket do HTTP 403, registrado para bibliotecas e aplicações.",
      "Um cliente se inscreve num canal, sala ou tópico ao qual não tem direito, ou a conta dele "
      "não tem um papel que o servidor exige depois que a conexão está aberta.",
      "Verifique as permissões da conta ou do token que o cliente usa e as regras de acesso do "
      "recurso que ele pediu. Um motivo de fechamento enviado pelo servidor costuma indicar a "
      "ação recusada."}},
    {3008,
     3008,
     {"Tempo esgotado",
      "O endpoint desistiu de esperar por algo de que precisava: uma mensagem, uma resposta ou "
      "uma etapa de autenticação. É o equivalente WebSocket do HTTP 408, registrado para "
      "bibliotecas e aplicações.",
      "Um servidor exige uma mensagem inicial (muitas vezes de autenticação) dentro de um prazo "
      "e não a recebeu, ou um heartbeat da aplicação ficou sem resposta por tempo demais.",
      "Verifique os prazos da aplicação e se a outra ponta envia a tempo as mensagens e os "
      "heartbeats exigidos; um event loop bloqueado ou um link congestionado os atrasa. Aumente "
      "um prazo que seja mais apertado do que a rede permite."}},
    {4000,
     4999,
     {"Uso privado",
      "Os códigos de 4000 a 4999 são de uso privado: as aplicações combinam o significado deles "
      "entre si, e eles não podem ser registrados. São válidos em quadros de fechamento, e o "
      "protocolo não diz nada sobre o que significam.",
      "Motivos definidos pela aplicação, como uma sessão substituída por outra mais nova, uma "
      "sala fechada, um usuário removido por um moderador ou uma falha de autenticação "
      "personalizada. Subprotocolos construídos sobre WebSocket, como o GraphQL over WebSocket, "
      "e muitos gateways de chat e de jogos definem seus próprios códigos aqui.",
      "Procure o código na documentação ou no código-fonte da aplicação ou do subprotocolo que "
      "o enviou; o motivo do fechamento costuma explicá-lo. O log do wsinspect mostra qual lado "
      "enviou o quadro de fechamento e, portanto, de quem é a documentação a consultar."}},
    {5000,
     65535,
     {"Fora de faixa",
      "Os códigos de 5000 para cima estão fora de todas as faixas que a RFC 6455 define. Eles "
      "não podem aparecer num quadro de fechamento, e um receptor que recebe um deles deve "
      "abortar a conexão.",
      "Uma aplicação que passa um número de erro arbitrário para close(), um erro de aritmética "
      "com códigos de fechamento ou um quadro de fechamento cujos bytes de código foram "
      "corrompidos.",
      "Use um código entre 4000 e 4999 para motivos definidos pela aplicação. Se o remetente não "
      "escolheu o código, examine os bytes do quadro de fechamento no log do wsinspect em busca "
      "de corrupção por um intermediário."}},
});

// ---------------------------------------------------------------------------
// Rules, in the order of rules.cpp, keyed by their stable id: a rule added to
// the catalogue without its Portuguese text still builds (its text falls back
// to English), and tests/catalog_lang_test.cpp names it.

struct RulePt {
  std::string_view id;
  RuleText text;
};

constexpr std::array kRulesPt = std::to_array<RulePt>({
    // Frame and stream rules.
    {"reserved-bits-set",
     {"RSV2 ou RSV3 está ligado, mas nenhuma extensão negociada dá significado a esses bits.",
      "Nenhuma extensão de uso comum define RSV2 ou RSV3, então um bit ligado em geral indica um "
      "cabeçalho danificado ou um leitor fora de sincronia com o fluxo; compare o quadro ao sair "
      "do remetente com o que chega depois de cada salto nesta direção."}},
    {"rsv1-without-extension",
     {"RSV1 está ligado, mas o permessage-deflate (ou outra extensão que use RSV1) não foi "
      "negociado.",
      "O remetente comprime, embora o handshake visto pelo receptor não tenha acordado "
      "compressão; compare Sec-WebSocket-Extensions dos dois lados de cada salto, pois um proxy "
      "que reescreve ou remove esse cabeçalho deixa as duas pontas em desacordo."}},
    {"rsv1-on-continuation",
     {"RSV1 está ligado num quadro de continuação; só o primeiro quadro de uma mensagem "
      "comprimida pode tê-lo.",
      "Verifique o compressor do remetente e qualquer intermediário que refragmente mensagens "
      "copiando os bits de cabeçalho do primeiro quadro para cada pedaço; tamanhos de quadro "
      "diferentes dos que o remetente escreveu apontam para um salto assim."}},
    {"rsv1-on-control",
     {"RSV1 está ligado num quadro de fechamento, ping ou pong; quadros de controle nunca são "
      "comprimidos.",
      "Examine o código de compressão do remetente ou um intermediário que comprima todos os "
      "quadros que encaminha: quadros de controle devem passar com RSV1 desligado."}},
    {"reserved-opcode",
     {"O opcode é 0x3-0x7 ou 0xB-0xF, valores que a RFC 6455 reserva e que nenhuma extensão "
      "negociada define.",
      "Um opcode reservado num fluxo que, fora isso, está saudável costuma significar que o "
      "leitor perdeu a sincronia de quadros porque um comprimento anterior estava errado ou "
      "porque bytes foram descartados ou inseridos; verifique o quadro anterior e qualquer salto "
      "nesta direção que guarde payloads em buffer ou os reescreva."}},
    {"continuation-without-start",
     {"Chegou um quadro de continuação (opcode 0) sem nenhuma mensagem fragmentada aberta.",
      "Ou o remetente ligou o FIN cedo demais, ou o primeiro fragmento se perdeu; compare a "
      "sequência de quadros dos dois lados de cada intermediário que divide, junta ou descarta "
      "quadros."}},
    {"data-frame-during-fragmented-message",
     {"Um quadro de texto ou binário iniciou uma nova mensagem enquanto uma mensagem "
      "fragmentada ainda estava aberta.",
      "As mensagens não podem se intercalar: procure um remetente com dois escritores na mesma "
      "conexão e sem lock, ou um intermediário que multiplexa conexões, e veja se o último "
      "fragmento da mensagem anterior ficou sem FIN."}},
    {"fragmented-control-frame",
     {"Um quadro de fechamento, ping ou pong tem FIN=0; quadros de controle não podem ser "
      "fragmentados.",
      "Verifique o código do remetente que escreve quadros de controle e qualquer intermediário "
      "que corte quadros num tamanho fixo: quadros de controle devem atravessar cada salto "
      "inteiros."}},
    {"control-frame-too-long",
     {"O payload de um quadro de controle tem mais de 125 bytes.",
      "Mantenha os payloads de ping em até 125 bytes e os motivos de fechamento em até 123 bytes "
      "depois do código de 2 bytes; se o remetente nunca escreve quadros assim, um intermediário "
      "os juntou ou os completou com bytes extras."}},
    {"close-payload-length-1",
     {"Um quadro de fechamento traz exatamente um byte de payload; o corpo de um fechamento ou "
      "é vazio ou começa com um código de status de 2 bytes.",
      "O remetente escreveu um código de um byte só ou cortou o corpo; não envie corpo nenhum, "
      "ou envie um código completo de 2 bytes seguido de um motivo opcional em UTF-8."}},
    {"invalid-close-code",
     {"Um quadro de fechamento traz um código que não pode aparecer na rede: 0-999, 1004, 1005, "
      "1006, 1015, 1016-2999 ou de 5000 para cima.",
      "1005, 1006 e 1015 só servem para a pilha informar a aplicação localmente, e o culpado "
      "costuma ser uma aplicação que repassa a close() um status que recebeu (muitas vezes "
      "1006); envie 1000-1003, "
      "1007-1014 ou um código da faixa 3000-4999 (`wsinspect explain CODE` descreve cada "
      "um)."}},
    {"invalid-utf8-close-reason",
     {"O texto do motivo de um quadro de fechamento não é UTF-8 válido.",
      "Os remetentes muitas vezes cortam o motivo para caber no limite de 123 bytes no meio de "
      "um caractere multibyte; corte nos limites de caractere e, se os bytes do remetente eram "
      "válidos, encontre o salto que alterou o payload."}},
    {"invalid-utf8-text",
     {"Uma mensagem de texto, remontada e descomprimida, não é UTF-8 válido (um caractere pode "
      "legitimamente ficar dividido entre dois quadros).",
      "Envie como mensagens binárias os bytes que não são UTF-8, ou corrija a codificação do "
      "remetente; se a saída do remetente é válida, um salto que transcodifica, apara ou "
      "refragmenta payloads a estragou."}},
    {"unmasked-client-frame",
     {"Um quadro do cliente para o servidor tem MASK=0; todo quadro do cliente deve ser "
      "mascarado.",
      "Ou a biblioteca do cliente pula o mascaramento, ou um intermediário desmascara os "
      "quadros e os encaminha assim; encontre o primeiro salto cujos bytes de saída do cliente "
      "para o servidor perdem o bit de máscara."}},
    {"masked-server-frame",
     {"Um quadro do servidor para o cliente tem MASK=1; servidores não podem mascarar.",
      "Em geral é uma biblioteca de cliente usada no papel de servidor, ou um relay que copia "
      "quadros mascarados de um cliente para outros clientes sem reenquadrá-los; encontre o "
      "salto cuja saída é a primeira a trazer o bit de máscara."}},
    {"length-msb-set",
     {"O comprimento estendido de 64 bits do payload tem o bit mais significativo ligado.",
      "Nenhuma mensagem real tem 2^63 bytes, então o cabeçalho está corrompido ou o leitor está "
      "fora de sincronia; confira o comprimento do quadro anterior com os bytes que vieram "
      "depois dele. A RFC trata isso como erro de protocolo (1002), mas tanto o `ws` quanto o "
      "`websockets` do Python respondem 1009, já que o comprimento excede qualquer limite que "
      "eles aceitam."}},
    {"non-minimal-length",
     {"O comprimento do payload usa uma forma mais longa que o necessário (a de 16 bits abaixo "
      "de 126, ou a de 64 bits abaixo de 65536); o Chromium aborta com 1002 qualquer quadro "
      "assim vindo de um servidor, e o `ws`, qualquer quadro de controle assim.",
      "A RFC 6455 diz que a forma mais curta DEVE (MUST) ser usada. O `ws` aceita quadros de "
      "dados na forma mais longa e o `websockets` do Python aceita qualquer quadro, então um "
      "remetente testado só com eles ainda pode falhar num navegador, ou com o `ws` num quadro "
      "de fechamento, ping ou pong (\"invalid payload length 126\"); faça o código do remetente "
      "que escreve os quadros, ou o salto que reconstrói os cabeçalhos de quadro, usar a forma "
      "de 7 bits até 125 bytes e a de 16 bits até 65535."}},
    {"message-too-big",
     {"Uma mensagem, depois da descompressão, é maior que o limite configurado.",
      "Aumente o tamanho máximo de mensagem do receptor ou envie mensagens menores, lembrando que "
      "com permessage-deflate o limite vale para o tamanho descomprimido; cada proxy ou gateway "
      "que interpreta quadros pode impor um limite próprio, menor."}},
    {"inflate-error",
     {"Uma mensagem comprimida não é um fluxo DEFLATE válido; o `ws` fecha com 1007, o "
      "`websockets` do Python com 1002.",
      "Os dois lados discordam sobre o contexto de compressão (um salto mudou no handshake os "
      "parâmetros context-takeover ou window-bits) ou um salto alterou os bytes comprimidos; "
      "compare Sec-WebSocket-Extensions e o payload dos dois lados de cada salto."}},
    {"frame-after-close",
     {"Chegou um quadro depois que o remetente dele já tinha enviado um quadro de fechamento; o "
      "receptor o descarta.",
      "A outra ponta ignora esses quadros, então o que eles traziam se perde; faça o remetente "
      "enviar todas as mensagens pendentes antes do fechamento e não escrever mais nada "
      "depois."}},
    {"stream-ended-mid-frame",
     {"O fluxo TCP terminou no meio de um quadro, que por isso nunca foi concluído.",
      "O remetente ou um salto nesta direção fechou ou resetou o TCP com um quadro em trânsito, "
      "e as aplicações vão informar 1006; verifique timeouts de inatividade e de duração "
      "máxima, limites de tamanho e reinícios ao longo do caminho."}},

    // Handshake: the client's upgrade request.
    {"request-malformed",
     {"O handshake de abertura do cliente não é uma requisição HTTP/1.1 válida.",
      "Procure na requisição bruta finais de linha errados, sintaxe de cabeçalho quebrada ou um "
      "corpo indevido; se os bytes do próprio cliente estão corretos, um intermediário "
      "reescreveu a requisição."}},
    {"request-not-get",
     {"A requisição de upgrade usa um método diferente de GET.",
      "Só uma requisição GET pode passar por upgrade para WebSocket no HTTP/1.1; verifique o "
      "cliente e qualquer gateway que traduza requisições entre versões do HTTP."}},
    {"request-http-version",
     {"A requisição de upgrade não é HTTP/1.1 ou posterior.",
      "O HTTP/1.0 não tem mecanismo de upgrade; um proxy que fala HTTP/1.0 com o upstream (o "
      "nginx faz isso, a menos que `proxy_http_version 1.1` esteja configurado) precisa passar "
      "para 1.1."}},
    {"request-missing-host",
     {"A requisição de upgrade não tem cabeçalho Host.",
      "Toda requisição HTTP/1.1 precisa de Host; verifique o cliente e qualquer salto que "
      "reconstrua os cabeçalhos da requisição."}},
    {"request-missing-upgrade",
     {"A requisição não tem um cabeçalho Upgrade com o token \"websocket\" (com qualquer "
      "combinação de maiúsculas e minúsculas).",
      "Upgrade é um cabeçalho hop-by-hop que os proxies descartam, a menos que sejam "
      "configurados para repassá-lo (no nginx, `proxy_set_header Upgrade $http_upgrade`); "
      "encontre o primeiro salto cuja requisição de saída chega sem ele."}},
    {"request-missing-connection-upgrade",
     {"O cabeçalho Connection da requisição está ausente ou não tem o token \"upgrade\".",
      "Connection é hop-by-hop e os proxies o substituem, muitas vezes por keep-alive ou close; "
      "configure cada proxy para enviar `Connection: upgrade` ao seu upstream."}},
    {"request-missing-key",
     {"A requisição não tem cabeçalho Sec-WebSocket-Key.",
      "Verifique o cliente; se ele envia a chave, algum salto entre ele e o servidor filtra os "
      "cabeçalhos Sec-WebSocket-*."}},
    {"request-invalid-key",
     {"Sec-WebSocket-Key não é a codificação base64 de exatamente 16 bytes.",
      "Uma chave válida tem 24 caracteres base64 e termina em \"==\"; verifique a geração da "
      "chave no cliente e qualquer salto que apare, quebre em linhas ou recodifique valores de "
      "cabeçalho."}},
    {"request-missing-version",
     {"A requisição não tem cabeçalho Sec-WebSocket-Version.",
      "Os clientes devem enviar `Sec-WebSocket-Version: 13`; verifique o cliente e qualquer "
      "salto que filtre cabeçalhos."}},
    {"request-unsupported-version",
     {"Sec-WebSocket-Version não é 13; o servidor responde 426 Upgrade Required com "
      "`Sec-WebSocket-Version: 13`.",
      "Migre o cliente para a RFC 6455 (versão 13): as versões de rascunho que ele pode estar "
      "enviando estão obsoletas, e um salto que tivesse reescrito o cabeçalho mostraria um "
      "valor diferente de cada lado."}},
    {"request-duplicate-header",
     {"Sec-WebSocket-Key, Sec-WebSocket-Version ou Upgrade aparece mais de uma vez na "
      "requisição.",
      "Uma duplicata costuma vir de um proxy que define o cabeçalho e também repassa a cópia do "
      "cliente; faça cada salto ou repassar o cabeçalho ou defini-lo, nunca as duas coisas."}},
    {"request-header-name-whitespace",
     {"O nome de um campo de cabeçalho é seguido de espaço antes dos dois-pontos "
      "(\"Authorization : ...\"); o servidor deve rejeitar a requisição com 400.",
      "Remova o espaço no cliente (ou no salto que escreve o cabeçalho): alguns servidores "
      "respondem 400, outros leem um nome de cabeçalho diferente, e assim o cabeçalho se perde "
      "ou fica duplicado, conforme o salto."}},
    {"request-deflate-offer-malformed",
     {"A oferta de permessage-deflate tem um parâmetro desconhecido ou repetido, window bits "
      "fora de 8..15, ou um valor num parâmetro que não aceita valor; o servidor deve recusá-la.",
      "Um servidor em conformidade aceita então o upgrade sem compressão, e a conexão funciona "
      "sem compressão; corrija a oferta do cliente ou encontre o salto que reescreveu "
      "Sec-WebSocket-Extensions."}},

    // Handshake: the server's response.
    {"response-malformed",
     {"A resposta do servidor ao upgrade não é uma resposta HTTP/1.1 válida.",
      "Procure na resposta bruta uma linha de status quebrada ou sintaxe de cabeçalho inválida; "
      "se os bytes do próprio servidor estão corretos, um salto entre ele e o cliente os "
      "reescreveu."}},
    {"response-not-101",
     {"O servidor respondeu ao upgrade com um status diferente de 101 Switching Protocols.",
      "Recusar é HTTP legítimo, mas a aplicação cliente informa 1006; o status e o corpo mostram "
      "qual salto recusou (400 ou 426 do servidor, 401 ou 403 da autenticação, 502, 504 ou uma "
      "página de erro HTML de um proxy que não alcança o upstream ou não faz o upgrade com "
      "ele)."}},
    {"response-missing-upgrade",
     {"A resposta 101 não tem cabeçalho Upgrade com o token \"websocket\".",
      "O cliente aborta a conexão; encontre o salto cuja resposta ao cliente perde o cabeçalho, "
      "tipicamente um proxy que trata Upgrade como hop-by-hop e não o devolve."}},
    {"response-missing-connection-upgrade",
     {"O cabeçalho Connection da resposta 101 está ausente ou não tem o token \"upgrade\".",
      "O cliente aborta a conexão; verifique o servidor e cada proxy no caminho de volta, pois "
      "os proxies muitas vezes substituem Connection por keep-alive ou close."}},
    {"response-missing-accept",
     {"A resposta 101 não tem cabeçalho Sec-WebSocket-Accept.",
      "O cliente aborta a conexão; verifique se o servidor gerou o cabeçalho e qual salto o "
      "removeu no caminho de volta."}},
    {"response-accept-mismatch",
     {"Sec-WebSocket-Accept não é base64(SHA-1(key + \"258EAFA5-E914-47DA-95CA-C5AB0DC85B11\")) "
      "da chave que este cliente enviou.",
      "A causa clássica é um intermediário que enviou ao upstream a sua própria "
      "Sec-WebSocket-Key, mas devolveu sem alteração o Accept do upstream; compare a chave e o "
      "accept de cada lado de cada salto."}},
    {"response-duplicate-header",
     {"Sec-WebSocket-Accept ou Upgrade aparece mais de uma vez na resposta 101.",
      "Tipicamente, tanto o servidor quanto um proxy à frente dele acrescentam o cabeçalho; faça "
      "um único salto produzir os cabeçalhos do handshake."}},
    {"response-extension-not-offered",
     {"A resposta aceita uma extensão, ou um conjunto de parâmetros do permessage-deflate, que a "
      "requisição nunca ofereceu.",
      "Este é o sinal típico de um intermediário que reescreve Sec-WebSocket-Extensions numa "
      "direção só; compare a oferta e a resposta dos dois lados de cada salto."}},
    {"response-deflate-params-malformed",
     {"O permessage-deflate aceito tem um parâmetro desconhecido ou repetido, window bits fora "
      "de 8..15, ou um valor onde nenhum é permitido (um parâmetro que o cliente não ofereceu é "
      "response-extension-not-offered).",
      "O cliente deve abortar a conexão; corrija a negociação de extensões do servidor ou "
      "encontre o salto que editou Sec-WebSocket-Extensions na resposta."}},
    {"response-subprotocol-not-offered",
     {"A resposta seleciona um subprotocolo que o cliente não ofereceu.",
      "Verifique a seleção de subprotocolo do servidor e qualquer gateway que defina "
      "Sec-WebSocket-Protocol por conta própria, já que alguns injetam um valor padrão."}},
    {"response-multiple-subprotocols",
     {"A resposta seleciona mais de um subprotocolo, como lista ou em cabeçalhos repetidos.",
      "O servidor deve ecoar exatamente um dos valores oferecidos; a causa é um servidor que "
      "devolve a lista inteira do cliente ou um proxy que acrescenta o próprio cabeçalho ao "
      "lado do cabeçalho do servidor."}},
    // In the catalogue with issue 12 §3 (a 101 that selects none of the offered
    // subprotocols); unused until that rule is in rules.cpp.
    {"response-no-subprotocol-selected",
     {"O cliente ofereceu subprotocolos e o 101 não seleciona nenhum. A RFC 6455 permite isso, "
      "mas muitos clientes abortam a conexão: o ws do Node (\"Server sent no subprotocol\") e os "
      "navegadores, cuja aplicação vê então um 1006.",
      "Faça o servidor selecionar um dos subprotocolos oferecidos, ou faça o cliente não "
      "oferecer nenhum, se ele funciona sem; verifique se nenhum salto remove "
      "Sec-WebSocket-Protocol da resposta."}},
    {"response-data-before-upgrade",
     {"Antes da resposta 101, ou no lugar dela, o lado do servidor enviou bytes que não são uma "
      "resposta HTTP válida.",
      "Procure um servidor que escreve quadros antes da resposta do handshake, uma "
      "incompatibilidade de TLS ou de PROXY protocol entre dois saltos, ou um serviço que não é "
      "HTTP escutando na porta do upstream."}},
});

constexpr bool rule_ids_unique() {
  for (size_t i = 0; i < kRulesPt.size(); ++i) {
    for (size_t j = i + 1; j < kRulesPt.size(); ++j) {
      if (kRulesPt[i].id == kRulesPt[j].id) return false;
    }
  }
  return true;
}
static_assert(rule_ids_unique(), "one pt-BR text per rule id");

// ---------------------------------------------------------------------------
// explain and rules.

constexpr ExplainText kExplainEn = {
    .what_it_means = "What it means",
    .when_you_see_it = "When you see it",
    .how_to_fix_it = "How to fix it",
    .key_differences = "Key differences",
    .which_one_applies = "Which one applies",
    .title_one = "WebSocket close code {0}: {1}",
    .title_range = "(range {0})",
    .title_two = "WebSocket close codes {0} and {1}",
    .may_appear_label = "May appear in a close frame: ",
    .sent_by_label = "Sent by: ",
    .registry_label = "Registry: ",
    .yes = "yes",
    .no_because = "no: {0}",
    .reason_local = "a WebSocket stack reports it locally, never sends it",
    .reason_receiver_fails =
        "a receiver fails the connection with 1002 if a close frame carries it",
    .registered = "IANA-registered code",
    .explained_by_range = "not registered on its own; explained by its range {0} ({1})",
    .same_range =
        "{0} and {1} are both {2} and fall in the same range, {3} ({4}), which gives them no "
        "separate meanings: the explanation below applies to both.",
    .intro_same_category = "Both {0} and {1} are {2}.",
    .intro_categories = "{0} is {1}, while {2} is {3}.",
    .row_name = "Name",
    .row_on_wire = "On the wire",
    .row_sent_by = "Sent by",
    .row_category = "Category",
    .row_registry = "Registry",
    .row_rfc = "Defined in",
    .row_cause = "Typical cause",
    .rfc_code = "RFC 6455 §7.4.1",
    .rfc_iana = "the IANA registry (after RFC 6455)",
    .rfc_range = "RFC 6455 §7.4.2 (ranges)",
    .diff_meaning = "Meaning.",
    .diff_when = "When it shows up.",
    .wire_both =
        "On the wire. Both may appear in a close frame, so either can be the code the peer "
        "actually sent.",
    .wire_neither_same = "On the wire. Neither may appear in a close frame; for each, {0}.",
    .wire_neither = "On the wire. Neither may appear in a close frame. {0}: {1}. {2}: {3}.",
    .wire_only = "On the wire. Only {0} may appear in a close frame; {1} may not: {2}.",
    .sender_same = "Sender. Both are sent {0}.",
    .sender_same_nobody = "Sender. Both are sent by no one (never valid in a close frame).",
    .sender_differ = "Sender. {0} is sent {1}; {2} {3}.",
    .registry_both = "Registry. Both are IANA-registered codes with meanings of their own.",
    .registry_differ = "Registry. {0}: {1}. {2}: {3}.",
    .advice_both_local =
        "Neither is sent by a peer: the local WebSocket stack reports the one that matches what "
        "happened, and wsinspect's log shows what actually crossed the wire.",
    .advice_chosen =
        "The code the closing side actually chose decides; wsinspect's log shows it together "
        "with the direction the close came from.",
    .advice_one_local =
        "{0} is never received from a peer: if your application reports it, the local WebSocket "
        "stack produced it, and the log shows what happened on the wire instead.",
    .advice_direction = "The direction of the close helps: {0} normally comes {1}, {2} {3}.",
    .advice_if_you_see = "If you see {0}: {1}",
    .err_empty = "empty argument: expected a close code, a decimal number from 0 to {0}",
    .err_not_code = "'{0}' is not a close code: expected a decimal number from 0 to {1}",
    .err_out_of_range = "{0} is out of range: a close frame carries a 16-bit code, from 0 to {1}",
    .usage_summary = "Explains a WebSocket close code, or compares two (e.g. explain 1002 1008).",
};

constexpr ExplainText kExplainPt = {
    .what_it_means = "Descrição",
    .when_you_see_it = "Quando você o vê",
    .how_to_fix_it = "Como corrigir",
    .key_differences = "Diferenças principais",
    .which_one_applies = "Quando usar qual",
    .title_one = "Código de fechamento WebSocket {0}: {1}",
    .title_range = "(faixa {0})",
    .title_two = "Códigos de fechamento WebSocket {0} e {1}",
    .may_appear_label = "Pode aparecer num quadro de fechamento: ",
    .sent_by_label = "Quem envia: ",
    .registry_label = "Registro: ",
    .yes = "sim",
    .no_because = "não: {0}",
    .reason_local = "a pilha WebSocket o informa localmente, nunca o envia",
    .reason_receiver_fails =
        "o receptor aborta a conexão com 1002 se um quadro de fechamento o trouxer",
    .registered = "código registrado na IANA",
    .explained_by_range = "sem registro próprio; explicado pela sua faixa, {0} ({1})",
    .same_range =
        "O {0} e o {1} são ambos {2} e caem na mesma faixa, {3} ({4}), que não lhes dá "
        "significados distintos: a explicação abaixo vale para os dois.",
    .intro_same_category = "Tanto o {0} quanto o {1} são {2}.",
    .intro_categories = "O {0} é {1}, enquanto o {2} é {3}.",
    .row_name = "Nome",
    .row_on_wire = "Na rede",
    .row_sent_by = "Quem envia",
    .row_category = "Categoria",
    .row_registry = "Registro",
    .row_rfc = "Definido em",
    .row_cause = "Causa típica",
    .rfc_code = "RFC 6455, §7.4.1",
    .rfc_iana = "o registro da IANA (depois da RFC 6455)",
    .rfc_range = "RFC 6455, §7.4.2 (faixas)",
    .diff_meaning = "Significado.",
    .diff_when = "Quando aparece.",
    .wire_both =
        "Na rede. Os dois podem aparecer num quadro de fechamento, então qualquer um deles pode "
        "ser o código que a outra ponta de fato enviou.",
    .wire_neither_same =
        "Na rede. Nenhum dos dois pode aparecer num quadro de fechamento; para cada um, {0}.",
    .wire_neither =
        "Na rede. Nenhum dos dois pode aparecer num quadro de fechamento. {0}: {1}. {2}: {3}.",
    .wire_only = "Na rede. Só o {0} pode aparecer num quadro de fechamento; o {1} não pode: {2}.",
    .sender_same = "Quem envia. Os dois são enviados {0}.",
    .sender_same_nobody = "Quem envia. Ninguém: nenhum dos dois é válido num quadro de fechamento.",
    .sender_differ = "Quem envia. O {0} é enviado {1}; o {2}, {3}.",
    .registry_both = "Registro. Os dois são códigos registrados na IANA, com significado próprio.",
    .registry_differ = "Registro. {0}: {1}. {2}: {3}.",
    .advice_both_local =
        "Nenhum dos dois é enviado pela outra ponta: a pilha WebSocket local informa o que "
        "corresponde ao que aconteceu, e o log do wsinspect mostra o que de fato passou pela "
        "rede.",
    .advice_chosen =
        "O que decide é o código escolhido de fato pelo lado que fechou; o log do wsinspect o "
        "mostra junto com a direção de onde veio o fechamento.",
    .advice_one_local =
        "O {0} nunca é recebido da outra ponta: se a sua aplicação o informa, foi a pilha "
        "WebSocket local que o produziu, e o log mostra o que aconteceu na rede.",
    .advice_direction = "A direção do fechamento ajuda: o {0} normalmente vem {1}; o {2}, {3}.",
    .advice_if_you_see = "Se aparecer o {0}: {1}",
    .err_empty =
        "argumento vazio: esperava-se um código de fechamento, um número decimal de 0 a {0}",
    .err_not_code = "'{0}' não é um código de fechamento: esperava-se um número decimal de 0 a {1}",
    .err_out_of_range =
        "{0} está fora do intervalo: um quadro de fechamento leva um código de 16 bits, de 0 a {1}",
    .usage_summary =
        "Explica um código de fechamento WebSocket ou compara dois (como em explain 1002 1008).",
};

constexpr RulesText kRulesEn = {.close_label = "close ", .fix_label = "fix: "};
constexpr RulesText kRulesTextPt = {.close_label = "fechamento ", .fix_label = "correção: "};

// ---------------------------------------------------------------------------
// Language names.

constexpr char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

bool is_alpha(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
  }
  return true;
}

// `name` as language[-_]territory: the language, and the territory or "".
// False unless both are letters (a territory of 2 or 3, as in "pt-BR").
bool split_lang(std::string_view name, std::string_view& language, std::string_view& territory) {
  size_t sep = name.find_first_of("-_");
  language = name.substr(0, sep);
  territory = sep == std::string_view::npos ? std::string_view() : name.substr(sep + 1);
  if (!is_alpha(language)) return false;
  if (sep != std::string_view::npos && !(is_alpha(territory) && territory.size() <= 3))
    return false;
  return true;
}

}  // namespace

std::string_view lang_name(Lang lang) {
  return lang == Lang::pt_br ? "pt-BR" : "en";
}

std::optional<Lang> lang_from_name(std::string_view name) {
  std::string_view language, territory;
  if (!split_lang(name, language, territory)) return std::nullopt;
  if (iequals(language, "en")) return Lang::en;
  if (iequals(language, "pt") && (territory.empty() || iequals(territory, "BR")))
    return Lang::pt_br;
  return std::nullopt;
}

Lang lang_from_env(const char* lc_all, const char* lc_messages, const char* lang) {
  const char* value = nullptr;
  for (const char* v : {lc_all, lc_messages, lang}) {
    if (v != nullptr && *v != '\0') {
      value = v;
      break;
    }
  }
  if (value == nullptr) return Lang::en;
  std::string_view locale(value);
  locale = locale.substr(0, locale.find_first_of(".@"));  // drop .codeset and @modifier
  std::string_view language, territory;
  if (!split_lang(locale, language, territory)) return Lang::en;  // "C", "POSIX" fall through
  if (iequals(language, "pt") && (territory.empty() || iequals(territory, "BR")))
    return Lang::pt_br;
  return Lang::en;
}

CloseCodeText close_code_text(const CloseCodeInfo& info, Lang lang) {
  if (lang == Lang::pt_br) {
    for (const CloseCodePt& e : kCloseCodesPt) {
      if (e.first == info.first && e.last == info.last) return e.text;
    }
  }
  // English, and any entry without a translation (the catalogue test forbids it).
  return {info.name, info.description, info.when, info.fix};
}

CloseCodeText close_code_text(uint32_t code, Lang lang) {
  return close_code_text(close_code_info(code), lang);
}

RuleText rule_text(const RuleInfo& info, Lang lang) {
  if (lang == Lang::pt_br) {
    for (const RulePt& e : kRulesPt) {
      if (e.id == info.id) return e.text;
    }
  }
  // English, and any rule without a translation (the catalogue test forbids it).
  return {info.summary, info.fix};
}

RuleText rule_text(Rule rule, Lang lang) {
  return rule_text(rule_info(rule), lang);
}

std::string_view severity_text(Severity s, Lang lang) {
  if (lang == Lang::pt_br) return s == Severity::error ? "erro" : "aviso";
  return severity_name(s);
}

SenderText code_sender_text(CodeSender s, Lang lang) {
  if (lang == Lang::pt_br) {
    switch (s) {
      case CodeSender::either:
        return {"qualquer um dos endpoints", "por qualquer um dos endpoints",
                "de qualquer um dos endpoints"};
      case CodeSender::server:
        return {"o servidor", "pelo servidor", "do servidor"};
      case CodeSender::client:
        return {"o cliente", "pelo cliente", "do cliente"};
      case CodeSender::application:
        return {"a aplicação, de qualquer um dos lados", "pela aplicação, de qualquer um dos lados",
                "da aplicação, de qualquer um dos lados"};
      case CodeSender::nobody:
        return {"ninguém (nunca é válido num quadro de fechamento)",
                "por ninguém (nunca é válido num quadro de fechamento)",
                "de ninguém (nunca é válido num quadro de fechamento)"};
    }
    return {"desconhecido", "por desconhecido", "de desconhecido"};
  }
  switch (s) {
    case CodeSender::either:
      return {"either endpoint", "by either endpoint", "from either endpoint"};
    case CodeSender::server:
      return {"the server", "by the server", "from the server"};
    case CodeSender::client:
      return {"the client", "by the client", "from the client"};
    case CodeSender::application:
      return {"the application on either side", "by the application on either side",
              "from the application on either side"};
    case CodeSender::nobody:
      return {"no one (never valid in a close frame)", "by no one (never valid in a close frame)",
              "from no one (never valid in a close frame)"};
  }
  return {"unknown", "by unknown", "from unknown"};
}

CategoryText code_category_text(uint32_t code, Lang lang) {
  const bool pt = lang == Lang::pt_br;
  if (code < 1000) {
    if (pt)
      return {"um código abaixo da faixa utilizável (0-999)",
              "códigos abaixo da faixa utilizável (0-999)"};
    return {"a code below the usable range (0-999)", "codes below the usable range (0-999)"};
  }
  if (code < 3000) {
    if (pt)
      return {
          "um código de fechamento do protocolo (1000-2999, reservado à RFC 6455 e às suas "
          "extensões)",
          "códigos de fechamento do protocolo (1000-2999, reservados à RFC 6455 e às suas "
          "extensões)"};
    return {"a protocol close code (1000-2999, reserved for RFC 6455 and its extensions)",
            "protocol close codes (1000-2999, reserved for RFC 6455 and its extensions)"};
  }
  if (code < 4000) {
    if (pt)
      return {"um código de biblioteca ou framework (3000-3999, registrado na IANA)",
              "códigos de bibliotecas e frameworks (3000-3999, registrados na IANA)"};
    return {"a library and framework code (3000-3999, registered with IANA)",
            "library and framework codes (3000-3999, registered with IANA)"};
  }
  if (code < 5000) {
    if (pt)
      return {"um código de aplicação de uso privado (4000-4999)",
              "códigos de aplicação de uso privado (4000-4999)"};
    return {"a private-use application code (4000-4999)",
            "private-use application codes (4000-4999)"};
  }
  if (pt)
    return {"um código fora de todas as faixas definidas (5000 para cima)",
            "códigos fora de todas as faixas definidas (5000 para cima)"};
  return {"a code outside every defined range (5000 and above)",
          "codes outside every defined range (5000 and above)"};
}

const ExplainText& explain_text(Lang lang) {
  return lang == Lang::pt_br ? kExplainPt : kExplainEn;
}

const RulesText& rules_text(Lang lang) {
  return lang == Lang::pt_br ? kRulesTextPt : kRulesEn;
}

std::string fill_template(std::string_view tmpl, std::initializer_list<std::string_view> args) {
  std::string out;
  out.reserve(tmpl.size() + 64);
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '{' && i + 2 < tmpl.size() && tmpl[i + 1] >= '0' && tmpl[i + 1] <= '9' &&
        tmpl[i + 2] == '}') {
      size_t n = static_cast<size_t>(tmpl[i + 1] - '0');
      if (n < args.size()) {
        out += *(args.begin() + n);
        i += 2;
        continue;
      }
    }
    out += tmpl[i];
  }
  return out;
}

}  // namespace wsi
